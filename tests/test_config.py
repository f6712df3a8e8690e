"""Settings: every bad ini value, option, marker argument and fixture argument, and the parsers.

Bad session settings are pytest usage errors; a bad marker errors its test at
setup; a bad `awaitest.fixture` call raises `ConfigError` where it is made.
Each message is pinned. The pure parsers (`_config`, `_loops`, `_scope`) are
tested directly.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

import pytest

import awaitest
from awaitest import _loops, _scope
from awaitest._config import MarkerOptions, Mode, Settings

Run = Callable[..., pytest.RunResult]

HOW = (
    "write 'asyncio', 'uvloop' or 'package.module:callable', optionally prefixed with an id, "
    "as in 'fast=uvloop:new_event_loop'"
)

ASYNC_TEST = """
import asyncio

async def test_it():
    await asyncio.sleep(0)
"""


def assert_usage_error(result: pytest.RunResult, message: str) -> None:
    """Assert the run stopped before collecting, with `message` as pytest's usage error."""
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


# -- session settings: usage errors --------------------------------------------------------


@pytest.mark.parametrize("how", ["ini", "pyproject", "cli"])
def test_invalid_mode_is_a_usage_error(pytester: pytest.Pytester, run: Run, how: str) -> None:
    """An awaitest_mode that is neither auto nor strict stops the run, naming the value."""
    args: list[str] = []
    if how == "ini":
        pytester.makeini("[pytest]\nawaitest_mode = fast\n")
    elif how == "pyproject":
        pytester.makepyprojecttoml('[tool.pytest.ini_options]\nawaitest_mode = "fast"\n')
    else:
        args = ["--awaitest-mode=fast"]
    pytester.makepyfile(ASYNC_TEST)
    result = run(*args)
    assert_usage_error(
        result,
        "awaitest_mode: invalid value 'fast'; expected one of: auto, strict "
        "(set it in the ini file or with --awaitest-mode).",
    )


def test_invalid_mode_on_command_line_wins_over_valid_ini(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A bad --awaitest-mode is reported even when the ini file's mode is fine."""
    pytester.makeini("[pytest]\nawaitest_mode = strict\n")
    pytester.makepyfile(ASYNC_TEST)
    result = run("--awaitest-mode=Auto")
    assert_usage_error(
        result, "awaitest_mode: invalid value 'Auto'; expected one of: auto, strict*"
    )


@pytest.mark.parametrize("value", ["galaxy", "Module", "test"])
def test_invalid_default_loop_scope_is_a_usage_error(
    pytester: pytest.Pytester, run: Run, value: str
) -> None:
    """An awaitest_default_loop_scope that is not auto or a scope stops the run."""
    pytester.makeini(f"[pytest]\nawaitest_default_loop_scope = {value}\n")
    pytester.makepyfile(ASYNC_TEST)
    result = run()
    assert_usage_error(
        result,
        f"awaitest_default_loop_scope: invalid value '{value}'; expected one of: auto, "
        "function, class, module, package, session (set it in the ini file).",
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "nope:new_loop",
            "awaitest_loop_factory: cannot import the loop factory 'nope:new_loop' "
            "(No module named 'nope'). Install it or fix the name.",
            id="missing-module",
        ),
        pytest.param(
            "asyncio:nope",
            "awaitest_loop_factory: cannot import the loop factory 'asyncio:nope' "
            "(module 'asyncio' has no attribute 'nope'). Install it or fix the name.",
            id="missing-attribute",
        ),
        pytest.param(
            "nocolon",
            f"awaitest_loop_factory: 'nocolon' is not a loop factory; {HOW}.",
            id="no-colon",
        ),
        pytest.param(
            "mymod:",
            f"awaitest_loop_factory: 'mymod:' is not a loop factory; {HOW}.",
            id="no-callable",
        ),
        pytest.param(
            "fast=nocolon",
            f"awaitest_loop_factory: 'nocolon' is not a loop factory; {HOW}.",
            id="with-id-no-colon",
        ),
        pytest.param(
            "os:sep",
            f"awaitest_loop_factory: 'os:sep' is '*', which is not callable; {HOW}.",
            id="not-callable",
        ),
        pytest.param(
            "x=asyncio x=uvloop",
            "awaitest_loop_factory: two loop factories are both named 'x'; give them distinct "
            "ids, as in 'a=pkg.mod:new_loop b=pkg.other:new_loop'.",
            id="duplicate-given-ids",
        ),
        pytest.param(
            "asyncio asyncio:new_event_loop",
            "awaitest_loop_factory: two loop factories are both named 'asyncio'; give them "
            "distinct ids, as in 'a=pkg.mod:new_loop b=pkg.other:new_loop'.",
            id="duplicate-derived-ids",
        ),
    ],
)
def test_invalid_loop_factory_is_a_usage_error(
    pytester: pytest.Pytester, run: Run, value: str, message: str
) -> None:
    """Every unusable awaitest_loop_factory entry stops the run with its own message."""
    pytester.makeini(f"[pytest]\nawaitest_loop_factory = {value}\n")
    pytester.makepyfile(ASYNC_TEST)
    result = run()
    assert_usage_error(result, message)


def test_uvloop_factory_without_uvloop_is_a_usage_error(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """Asking for uvloop when it cannot be imported says how to install it."""
    pytester.makeconftest("import sys\nsys.modules['uvloop'] = None\n")
    pytester.makeini("[pytest]\nawaitest_loop_factory = uvloop\n")
    pytester.makepyfile(ASYNC_TEST)
    result = run_subprocess()
    assert_usage_error(
        result,
        "awaitest_loop_factory: the 'uvloop' loop factory needs uvloop, which is not "
        "installed. Install it with: pip install 'awaitest[uvloop]'.",
    )


# -- marker arguments: setup errors ---------------------------------------------------------


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        pytest.param(
            "@pytest.mark.awaitest(bogus=1, loop_scope='module')",
            "test_marker.py::test_it: @pytest.mark.awaitest got unknown argument(s) bogus; "
            "allowed: loop_scope, loop_factory, guards, timeout, virtual_time, concurrent.",
            id="unknown-argument",
        ),
        pytest.param(
            "@pytest.mark.awaitest(zeta=1, alpha=2)",
            "test_marker.py::test_it: @pytest.mark.awaitest got unknown argument(s) alpha, "
            "zeta; allowed: loop_scope, loop_factory, guards, timeout, virtual_time, concurrent.",
            id="unknown-arguments-sorted",
        ),
        pytest.param(
            "@pytest.mark.awaitest(loop_scope='galaxy')",
            "test_marker.py::test_it: @pytest.mark.awaitest(loop_scope='galaxy') is not a loop "
            "scope; expected one of: function, class, module, package, session.",
            id="bad-loop-scope",
        ),
        pytest.param(
            "@pytest.mark.awaitest('x')",
            "test_marker.py::test_it: @pytest.mark.awaitest takes keyword arguments only, got "
            "'x'; write e.g. @pytest.mark.awaitest(loop_scope='module').",
            id="positional",
        ),
        pytest.param(
            "@pytest.mark.awaitest(loop_factory=42)",
            "test_marker.py::test_it: @pytest.mark.awaitest(loop_factory=...): 42 is not a loop "
            f"factory; {HOW}, or pass a callable.",
            id="factory-not-callable",
        ),
        pytest.param(
            "@pytest.mark.awaitest(loop_factory='nope:new_loop')",
            "test_marker.py::test_it: @pytest.mark.awaitest(loop_factory=...): cannot import the "
            "loop factory 'nope:new_loop' (No module named 'nope'). Install it or fix the name.",
            id="factory-not-importable",
        ),
        pytest.param(
            "@pytest.mark.awaitest(loop_factory=[])",
            f"test_marker.py::test_it: @pytest.mark.awaitest(loop_factory=...): no loop factory "
            f"given; {HOW}.",
            id="factory-empty-list",
        ),
    ],
)
def test_bad_marker_errors_the_test_at_setup(
    pytester: pytest.Pytester, run: Run, marker: str, message: str
) -> None:
    """A bad awaitest marker errors its test at setup (the body never runs), naming the test."""
    pytester.makepyfile(
        test_marker=f"""
        import pytest

        {marker}
        async def test_it():
            raise AssertionError("the body ran")

        async def test_other():
            pass
        """
    )
    result = run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_it*", message])
    result.stdout.no_fnmatch_line("*the body ran*")


def test_bad_module_marker_errors_every_test_under_it(pytester: pytest.Pytester, run: Run) -> None:
    """A bad pytestmark errors each test of the module, naming each test."""
    pytester.makepyfile(
        test_mod="""
        import pytest

        pytestmark = pytest.mark.awaitest(loop_scope="everywhere")

        async def test_one():
            pass

        def test_two():
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines_random(
        [
            "test_mod.py::test_one: @pytest.mark.awaitest(loop_scope='everywhere') is not a*",
            "test_mod.py::test_two: @pytest.mark.awaitest(loop_scope='everywhere') is not a*",
        ]
    )


# -- awaitest.fixture arguments -------------------------------------------------------------


def test_fixture_loop_scope_narrower_than_scope_fails_collection(
    pytester: pytest.Pytester, run: Run
) -> None:
    """awaitest.fixture with loop_scope narrower than scope is a ConfigError at import."""
    pytester.makepyfile(
        test_narrow="""
        import awaitest

        @awaitest.fixture(scope="session", loop_scope="function")
        async def db():
            return 1

        async def test_db(db):
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting test_narrow.py*",
            "E   awaitest*ConfigError: fixture 'db' has scope='session' but "
            "loop_scope='function': its loop would close while the fixture is still in use. "
            "Use loop_scope='session' (or wider), or drop loop_scope to let awaitest choose.",
        ]
    )


def test_fixture_bad_loop_scope_fails_collection(pytester: pytest.Pytester, run: Run) -> None:
    """awaitest.fixture(loop_scope=...) with a non-scope is a ConfigError at import."""
    pytester.makepyfile(
        test_bad="""
        import awaitest

        @awaitest.fixture(loop_scope="galaxy")
        async def db():
            return 1
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "E   awaitest*ConfigError: awaitest.fixture(loop_scope='galaxy') is not a loop scope; "
            "expected one of: function, class, module, package, session."
        ]
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"scope": "module", "loop_scope": "class"},
            "fixture 'make' has scope='module' but loop_scope='class': its loop would close "
            "while the fixture is still in use. Use loop_scope='module' (or wider), or drop "
            "loop_scope to let awaitest choose.",
            id="narrower",
        ),
        pytest.param(
            {"scope": "package", "loop_scope": "module", "name": "db"},
            "fixture 'db' has scope='package' but loop_scope='module': *",
            id="named",
        ),
        pytest.param(
            {"loop_scope": "forever"},
            "awaitest.fixture(loop_scope='forever') is not a loop scope; expected one of: "
            "function, class, module, package, session.",
            id="not-a-scope",
        ),
    ],
)
def test_fixture_argument_errors_raise_config_error(kwargs: dict[str, str], message: str) -> None:
    """awaitest.fixture raises ConfigError (a ValueError) at decoration for bad loop_scope."""

    async def make() -> int:
        return 1

    with pytest.raises(awaitest.ConfigError) as info:
        awaitest.fixture(**kwargs)(make)  # type: ignore[call-overload]
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, awaitest.AwaitestError)
    from fnmatch import fnmatchcase

    assert fnmatchcase(str(info.value), message), str(info.value)


def test_dynamic_scope_narrower_than_loop_scope_errors_at_setup(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A callable scope that turns out wider than loop_scope errors the fixture's setup."""
    pytester.makepyfile(
        test_dynamic="""
        import awaitest

        def pick_scope(fixture_name, config):
            return "session"

        @awaitest.fixture(scope=pick_scope, loop_scope="module")
        async def db():
            return 1

        async def test_db(db):
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_db*",
            "fixture 'db' has scope='session' but loop_scope='module': its loop would close "
            "while the fixture is still in use. Use loop_scope='session' (or wider), or drop "
            "loop_scope to let awaitest choose.",
        ]
    )


# -- the pure parsers -----------------------------------------------------------------------


def parse(
    mode: str | None = None,
    default_loop_scope: str | None = None,
    loop_factory: list[str] | None = None,
) -> Settings:
    """Settings.parse with every key defaulting to unset."""
    return Settings.parse(
        mode=mode, default_loop_scope=default_loop_scope, loop_factory=loop_factory
    )


def test_settings_defaults() -> None:
    """Unset (or empty) settings mean auto mode, auto loop scope, the asyncio loop."""
    for settings in (parse(), parse("", "", [])):
        assert settings.mode is Mode.AUTO
        assert settings.default_loop_scope is None
        assert settings.loop_factories == (_loops.DEFAULT,)
        assert settings.loop_factories[0].new_loop is _loops.new_asyncio_loop
    assert Settings() == parse()


def test_settings_parse_values() -> None:
    """Valid values are parsed, surrounding whitespace ignored, 'auto' scope meaning None."""
    settings = parse(" strict ", " module ", ["asyncio", "fast=uvloop"])
    assert settings.mode is Mode.STRICT
    assert settings.default_loop_scope == "module"
    assert [f.id for f in settings.loop_factories] == ["asyncio", "fast"]
    assert parse(default_loop_scope="auto").default_loop_scope is None
    for scope in _scope.LOOP_SCOPES:
        assert parse(default_loop_scope=scope).default_loop_scope == scope


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"mode": "STRICT"},
            "awaitest_mode: invalid value 'STRICT'; expected one of: auto, strict (set it in "
            "the ini file or with --awaitest-mode).",
        ),
        (
            {"default_loop_scope": "global"},
            "awaitest_default_loop_scope: invalid value 'global'; expected one of: auto, "
            "function, class, module, package, session (set it in the ini file).",
        ),
        (
            {"loop_factory": ["nocolon"]},
            f"awaitest_loop_factory: 'nocolon' is not a loop factory; {HOW}.",
        ),
    ],
)
def test_settings_parse_errors(kwargs: dict[str, object], message: str) -> None:
    """Settings.parse raises ConfigError with the message users see."""
    with pytest.raises(awaitest.ConfigError) as info:
        parse(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_settings_are_frozen() -> None:
    """Settings cannot be changed after parsing."""
    settings = parse()
    with pytest.raises(AttributeError):
        settings.mode = Mode.STRICT  # type: ignore[misc]


def test_marker_options_parse() -> None:
    """A bare marker is 'marked' with nothing chosen; keyword arguments are kept."""
    assert MarkerOptions() == MarkerOptions(marked=False, loop_scope=None, loop_factories=None)
    bare = MarkerOptions.parse((), {}, "t.py::test")
    assert bare == MarkerOptions(marked=True)
    full = MarkerOptions.parse((), {"loop_scope": "class", "loop_factory": "uvloop"}, "w")
    assert full.marked
    assert full.loop_scope == "class"
    assert full.loop_factories is not None
    assert [f.id for f in full.loop_factories] == ["uvloop"]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (
            (1, "a"),
            {},
            "w: @pytest.mark.awaitest takes keyword arguments only, got 1, 'a'; write e.g. "
            "@pytest.mark.awaitest(loop_scope='module').",
        ),
        (
            (),
            {"scope": "module"},
            "w: @pytest.mark.awaitest got unknown argument(s) scope; allowed: loop_scope, "
            "loop_factory, guards, timeout, virtual_time, concurrent.",
        ),
        (
            (),
            {"loop_scope": 3},
            "w: @pytest.mark.awaitest(loop_scope=3) is not a loop scope; expected one of: "
            "function, class, module, package, session.",
        ),
        (
            (),
            {"loop_factory": {"a": "asyncio", "b": 1}},
            f"w: @pytest.mark.awaitest(loop_factory=...): 1 is not a loop factory; {HOW}, or "
            "pass a callable.",
        ),
    ],
)
def test_marker_options_parse_errors(
    args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    """MarkerOptions.parse raises ConfigError naming where the marker is."""
    with pytest.raises(awaitest.ConfigError) as info:
        MarkerOptions.parse(args, kwargs, "w")
    assert str(info.value) == message


def my_loop() -> asyncio.AbstractEventLoop:
    """Make a loop (a loop factory defined in a test module)."""
    return asyncio.new_event_loop()


@pytest.mark.parametrize(
    ("value", "expected_id", "expected_fn"),
    [
        # The name "asyncio": asyncio's own loops, built around recycled parts.
        ("asyncio", "asyncio", _loops.new_asyncio_loop),
        (" asyncio ", "asyncio", _loops.new_asyncio_loop),
        ("mine=asyncio", "mine", _loops.new_asyncio_loop),
        ("asyncio:new_event_loop", "asyncio", asyncio.new_event_loop),
        ("a = asyncio:new_event_loop", "a", asyncio.new_event_loop),
        ("test_config:my_loop", "test_config", my_loop),
        (asyncio.new_event_loop, "asyncio", asyncio.new_event_loop),
        (my_loop, "my_loop", my_loop),
    ],
)
def test_parse_one(value: object, expected_id: str, expected_fn: object) -> None:
    """Each spelling of a loop factory gets the right callable and a short id."""
    factory = _loops.parse_one(value, "src")
    assert factory.id == expected_id
    assert factory.new_loop is expected_fn


def test_parse_one_uvloop_and_explicit_id() -> None:
    """'uvloop' makes uvloop loops; an explicit id wins over the spelled and derived ids."""
    factory = _loops.parse_one("uvloop", "src")
    assert factory.id == "uvloop"
    loop = factory.new_loop()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()
    assert _loops.parse_one("x=uvloop", "src", id="given").id == "given"
    assert _loops.parse_one(my_loop, "src", id="given").id == "given"


def test_parse_one_id_of_a_partial_is_deterministic() -> None:
    """A functools.partial factory gets an id without a memory address (ids must be stable)."""
    factory = _loops.parse_one(functools.partial(my_loop), "src")
    assert factory.new_loop.func is my_loop  # type: ignore[attr-defined]
    assert " at 0x" not in factory.id, factory.id


def test_parse_one_rejects_non_factories() -> None:
    """A value that is neither a string nor a callable is a ConfigError naming the source."""
    with pytest.raises(awaitest.ConfigError) as info:
        _loops.parse_one(3.5, "somewhere")
    assert str(info.value) == f"somewhere: 3.5 is not a loop factory; {HOW}, or pass a callable."


def test_parse_many_shapes() -> None:
    """parse_many takes one factory, a sequence, or a mapping of id to factory, in order."""
    assert [f.id for f in _loops.parse_many("asyncio", "s")] == ["asyncio"]
    assert [f.id for f in _loops.parse_many(["uvloop", "asyncio"], "s")] == ["uvloop", "asyncio"]
    mapping = _loops.parse_many({"b": my_loop, "a": "uvloop"}, "s")
    assert [f.id for f in mapping] == ["b", "a"]
    assert mapping[0].new_loop is my_loop
    assert _loops.parse_many(my_loop, "s")[0].new_loop is my_loop


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], f"s: no loop factory given; {HOW}."),
        ({}, f"s: no loop factory given; {HOW}."),
        (
            [my_loop, my_loop],
            "s: two loop factories are both named 'my_loop'; give them distinct ids, as in "
            "'a=pkg.mod:new_loop b=pkg.other:new_loop'.",
        ),
        (
            ["asyncio", "asyncio:new_event_loop"],
            "s: two loop factories are both named 'asyncio'; give them distinct ids, as in "
            "'a=pkg.mod:new_loop b=pkg.other:new_loop'.",
        ),
    ],
)
def test_parse_many_errors(value: object, message: str) -> None:
    """An empty setting or two factories with one id is a ConfigError."""
    with pytest.raises(awaitest.ConfigError) as info:
        _loops.parse_many(value, "s")
    assert str(info.value) == message


def test_loop_factory_equality_ignores_the_callable() -> None:
    """Factories compare by id only (so a shared loop's implementation is matched by id)."""
    assert _loops.LoopFactory("x", asyncio.new_event_loop) == _loops.LoopFactory("x", my_loop)
    assert _loops.LoopFactory("x", my_loop) != _loops.LoopFactory("y", my_loop)


def test_scope_order() -> None:
    """Loop scopes are ordered function < class < module < package < session."""
    assert _scope.LOOP_SCOPES == ("function", "class", "module", "package", "session")
    assert [_scope.rank(s) for s in _scope.LOOP_SCOPES] == [0, 1, 2, 3, 4]
    assert _scope.wider("function", "module") == "module"
    assert _scope.wider("session", "class") == "session"
    assert _scope.wider("package", "package") == "package"
    assert _scope.is_scope("module")
    assert not _scope.is_scope("auto")
    assert not _scope.is_scope(None)
    assert not _scope.is_scope(2)


def test_parse_one_rejects_an_empty_id() -> None:
    """`=spec` (an id prefix with no id) is an error, not a silently derived id."""
    with pytest.raises(awaitest.ConfigError) as excinfo:
        _loops.parse_one("=asyncio", "awaitest_loop_factory")
    assert str(excinfo.value).startswith(
        "awaitest_loop_factory: '=asyncio' has an empty id before '='; write 'asyncio', "
        "'uvloop' or 'package.module:callable'"
    )
