"""A suite written for pytest-asyncio runs under awaitest unchanged.

pytest-asyncio is not installed here, so `import pytest_asyncio` in an inner
test gets awaitest's shim. Inner runs use `-p no:asyncio`, as a suite that
swapped the two would. Loop identities are recorded with the `rec` helper
(see tests/inner.py) and compared in the outer test.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from awaitest._compat import pytest_asyncio as compat
from inner import REC, groups, loops_by_name, partition, read_log

Run = Callable[..., pytest.RunResult]

NOT_SUPPORTED = "*async def functions are not natively supported*"
SCOPES = "function, class, module, package, session"

LOG_LOOP = """
async def test_{n}():
    rec.note("{n}", rec.loop_id())
"""


def configure(pytester: pytest.Pytester, how: str, **ini: str) -> list[str]:
    """Write `ini` keys the given way ("ini", "pyproject", "cli"); return extra arguments.

    "cli" passes each key as `-o key=value`, except `asyncio_mode`, which becomes
    `--asyncio-mode=value`.
    """
    if how == "ini":
        pytester.makeini("[pytest]\n" + "".join(f"{k} = {v}\n" for k, v in ini.items()))
        return []
    if how == "pyproject":
        body = "".join(f'{k} = "{v}"\n' for k, v in ini.items())
        pytester.makepyprojecttoml("[tool.pytest.ini_options]\n" + body)
        return []
    return [f"--asyncio-mode={v}" if k == "asyncio_mode" else f"-o{k}={v}" for k, v in ini.items()]


# -- the pytest_asyncio module ---------------------------------------------------------------


def test_import_pytest_asyncio_gives_its_public_names(pytester: pytest.Pytester, run: Run) -> None:
    """`import pytest_asyncio` works and offers fixture, is_async_test and version 1.5.0."""
    pytester.makepyfile(
        """
        import pytest_asyncio

        def test_names():
            assert pytest_asyncio.__version__ == "1.5.0"
            assert set(pytest_asyncio.__all__) == {"fixture", "is_async_test"}
            assert callable(pytest_asyncio.fixture)
            assert callable(pytest_asyncio.is_async_test)
        """
    )
    result = run()
    result.assert_outcomes(passed=1)


def test_pytest_plugins_naming_pytest_asyncio_works(pytester: pytest.Pytester, run: Run) -> None:
    """`pytest_plugins = ["pytest_asyncio"]` in a conftest loads and the suite runs."""
    pytester.makepyfile(rec=REC)
    pytester.makeconftest('pytest_plugins = ["pytest_asyncio"]\n')
    pytester.makepyfile(
        """
        import asyncio
        import rec

        async def test_runs():
            await asyncio.sleep(0)
            rec.note("ran")
        """
    )
    result = run()
    result.assert_outcomes(passed=1)
    assert read_log(pytester) == ["ran"]


def test_fixture_decorator_takes_every_form(pytester: pytest.Pytester, run: Run) -> None:
    """pytest_asyncio.fixture works bare, called, and with scope/params/ids/name/autouse."""
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        """
        import asyncio
        import pytest
        import pytest_asyncio
        import rec

        pytestmark = pytest.mark.asyncio

        @pytest_asyncio.fixture
        async def bare():
            await asyncio.sleep(0)
            return "bare"

        @pytest_asyncio.fixture()
        async def called():
            await asyncio.sleep(0)
            yield "called"
            rec.note("called-teardown")

        @pytest_asyncio.fixture(scope="module")
        async def per_module():
            await asyncio.sleep(0)
            return object()

        @pytest_asyncio.fixture(params=[1, 2], ids=["one", "two"])
        async def number(request):
            await asyncio.sleep(0)
            return request.param

        @pytest_asyncio.fixture(name="renamed")
        async def _original_name():
            await asyncio.sleep(0)
            return "renamed"

        @pytest_asyncio.fixture(autouse=True)
        async def always():
            await asyncio.sleep(0)
            rec.note("autouse")

        async def test_values(bare, called, renamed, per_module):
            assert (bare, called, renamed) == ("bare", "called", "renamed")
            rec.note("module-object", rec.ident(per_module))

        async def test_same_module_object(per_module):
            rec.note("module-object", rec.ident(per_module))

        async def test_params(number):
            rec.note("param", number)
        """
    )
    result = run("-v", "--asyncio-mode=strict")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        ["*::test_params[[]one[]] PASSED*", "*::test_params[[]two[]] PASSED*"]
    )
    log = read_log(pytester)
    assert log.count("autouse") == 4
    assert log.count("called-teardown") == 1
    assert sorted(line for line in log if line.startswith("param")) == ["param 1", "param 2"]
    module_objects = {line for line in log if line.startswith("module-object")}
    assert len(module_objects) == 1, log


def test_fixture_loop_scope_argument_is_honoured(pytester: pytest.Pytester, run: Run) -> None:
    """pytest_asyncio.fixture(loop_scope="module") runs every instance on the module's loop."""
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        test_a="""
        import pytest_asyncio
        import rec

        @pytest_asyncio.fixture(loop_scope="module")
        async def on_module_loop():
            return rec.loop_id()

        async def test_1(on_module_loop):
            rec.note("a1", on_module_loop)

        async def test_2(on_module_loop):
            rec.note("a2", on_module_loop)
        """,
        test_b="""
        import pytest_asyncio
        import rec

        @pytest_asyncio.fixture(loop_scope="module")
        async def on_module_loop():
            return rec.loop_id()

        async def test_1(on_module_loop):
            rec.note("b1", on_module_loop)
        """,
    )
    result = run()
    result.assert_outcomes(passed=3)
    assert partition(loops_by_name(pytester)) == groups("a1 a2", "b1")


# -- is_async_test ---------------------------------------------------------------------------

IS_ASYNC_CONFTEST = """
import pytest_asyncio
import rec

def pytest_collection_modifyitems(items):
    for item in items:
        rec.note(item.name, pytest_asyncio.is_async_test(item))
"""


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("strict", {"test_sync": "False", "test_marked": "True", "test_unmarked": "False"}),
        ("auto", {"test_sync": "False", "test_marked": "True", "test_unmarked": "True"}),
    ],
)
def test_is_async_test_tells_which_tests_awaitest_runs(
    pytester: pytest.Pytester, run: Run, mode: str, expected: dict[str, str]
) -> None:
    """is_async_test is right inside pytest_collection_modifyitems, in both modes."""
    pytester.makepyfile(rec=REC)
    pytester.makeconftest(IS_ASYNC_CONFTEST)
    pytester.makepyfile(
        """
        import pytest

        def test_sync():
            pass

        @pytest.mark.asyncio
        async def test_marked():
            pass

        async def test_unmarked():
            pass
        """
    )
    result = run(f"--asyncio-mode={mode}")
    if mode == "strict":
        result.assert_outcomes(passed=2, failed=1)
        result.stdout.fnmatch_lines([NOT_SUPPORTED])
    else:
        result.assert_outcomes(passed=3)
    assert loops_by_name(pytester) == expected


@pytest.mark.parametrize("mode", ["auto", "strict"])
def test_is_async_test_is_false_for_anyio_tests(
    pytester: pytest.Pytester, run: Run, mode: str
) -> None:
    """A test another plugin runs (marked anyio) is not awaitest's: is_async_test is False."""
    pytest.importorskip("anyio")
    pytester.makepyfile(rec=REC)
    pytester.makeconftest(IS_ASYNC_CONFTEST)
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.mark.anyio
        async def test_anyio():
            pass

        @pytest.mark.anyio
        @pytest.mark.asyncio
        async def test_anyio_and_asyncio():
            pass
        """
    )
    result = run(f"--asyncio-mode={mode}")
    result.assert_outcomes(passed=2)
    assert loops_by_name(pytester) == {"test_anyio": "False", "test_anyio_and_asyncio": "False"}


def test_session_loop_recipe_shares_one_loop(pytester: pytest.Pytester, run: Run) -> None:
    """The documented is_async_test + add_marker(append=False) recipe puts tests on one loop."""
    pytester.makepyfile(rec=REC)
    pytester.makeconftest(
        """
        import pytest
        import pytest_asyncio

        def pytest_collection_modifyitems(items):
            pytest_asyncio_tests = (item for item in items if pytest_asyncio.is_async_test(item))
            session_scope_marker = pytest.mark.asyncio(loop_scope="session")
            for async_test in pytest_asyncio_tests:
                async_test.add_marker(session_scope_marker, append=False)
        """
    )
    pytester.makepyfile(
        test_a="import rec\n" + LOG_LOOP.format(n="a1") + LOG_LOOP.format(n="a2"),
        test_b="import rec\n" + LOG_LOOP.format(n="b1"),
    )
    result = run("-o", "asyncio_mode=auto")
    result.assert_outcomes(passed=3)
    assert partition(loops_by_name(pytester)) == groups("a1 a2 b1")


# -- the asyncio marker ----------------------------------------------------------------------


def test_asyncio_marker_is_registered(pytester: pytest.Pytester, run: Run) -> None:
    """The asyncio marker is registered, so --strict-markers accepts it and --markers lists it."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.asyncio
        async def test_marked():
            pass
        """
    )
    run("--strict-markers").assert_outcomes(passed=1)
    run("--markers").stdout.fnmatch_lines(["@pytest.mark.asyncio(loop_scope=None)*"])


MARKED_LAYOUTS = {
    "function": """
        import pytest
        import rec

        @pytest.mark.asyncio(loop_scope="module")
        async def test_1():
            rec.note("t1", rec.loop_id())

        @pytest.mark.asyncio(loop_scope="module")
        async def test_2():
            rec.note("t2", rec.loop_id())
        """,
    "class": """
        import pytest
        import rec

        @pytest.mark.asyncio(loop_scope="module")
        class TestBoth:
            async def test_1(self):
                rec.note("t1", rec.loop_id())

            async def test_2(self):
                rec.note("t2", rec.loop_id())
        """,
    "module": """
        import pytest
        import rec

        pytestmark = pytest.mark.asyncio(loop_scope="module")

        async def test_1():
            rec.note("t1", rec.loop_id())

        async def test_2():
            rec.note("t2", rec.loop_id())
        """,
    "param": """
        import pytest
        import rec

        MARK = pytest.mark.asyncio(loop_scope="module")

        @pytest.mark.parametrize("n", [pytest.param(1, marks=MARK), pytest.param(2, marks=MARK)])
        async def test_(n):
            rec.note(f"t{n}", rec.loop_id())
        """,
    "hook": """
        import rec

        async def test_1():
            rec.note("t1", rec.loop_id())

        async def test_2():
            rec.note("t2", rec.loop_id())
        """,
}

HOOK_CONFTEST = """
import pytest

def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.asyncio(loop_scope="module"))
"""


@pytest.mark.parametrize("where", list(MARKED_LAYOUTS))
def test_marker_loop_scope_is_honoured_wherever_the_marker_is(
    pytester: pytest.Pytester, run: Run, where: str
) -> None:
    """mark.asyncio(loop_scope="module") on a test, class, module, param or from a hook applies."""
    pytester.makepyfile(rec=REC)
    if where == "hook":
        pytester.makeconftest(HOOK_CONFTEST)
    pytester.makepyfile(test_marked=MARKED_LAYOUTS[where])
    # Strict mode: the marker is also what makes awaitest run the tests at all.
    result = run("--asyncio-mode=strict")
    result.assert_outcomes(passed=2)
    assert partition(loops_by_name(pytester)) == groups("t1 t2")


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("class", ("x1 x2", "y", "b", "c")),
        ("module", ("x1 x2 y", "b", "c")),
        ("package", ("x1 x2 y b", "c")),
        ("session", ("x1 x2 y b c",)),
    ],
)
def test_marker_loop_scope_groups_tests_by_node(
    pytester: pytest.Pytester, run: Run, scope: str, expected: tuple[str, ...]
) -> None:
    """Each loop_scope value shares one loop among the tests of that node."""
    pytester.makepyfile(rec=REC)
    mark = f'import pytest\nimport rec\n\npytestmark = pytest.mark.asyncio(loop_scope="{scope}")\n'
    pytester.makepyfile(
        **{
            "one/__init__.py": "",
            "one/test_a.py": mark
            + textwrap.dedent(
                """
                class TestX:
                    async def test_1(self):
                        rec.note("x1", rec.loop_id())

                    async def test_2(self):
                        rec.note("x2", rec.loop_id())

                class TestY:
                    async def test_1(self):
                        rec.note("y", rec.loop_id())
                """
            ),
            "one/test_b.py": mark + LOG_LOOP.format(n="b"),
            "two/__init__.py": "",
            "two/test_c.py": mark + LOG_LOOP.format(n="c"),
        }
    )
    result = run()
    result.assert_outcomes(passed=5)
    assert partition(loops_by_name(pytester)) == groups(*expected)


def test_closest_asyncio_marker_wins_as_a_whole(pytester: pytest.Pytester, run: Run) -> None:
    """A bare mark.asyncio on a test overrides the module's loop_scope: it gets its own loop."""
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        """
        import pytest
        import rec

        pytestmark = pytest.mark.asyncio(loop_scope="module")

        async def test_1():
            rec.note("t1", rec.loop_id())

        async def test_2():
            rec.note("t2", rec.loop_id())

        @pytest.mark.asyncio
        async def test_bare():
            rec.note("bare", rec.loop_id())
        """
    )
    result = run()
    result.assert_outcomes(passed=3)
    assert partition(loops_by_name(pytester)) == groups("t1 t2", "bare")


def test_deprecated_scope_argument_warns_and_acts_as_loop_scope(
    pytester: pytest.Pytester, run: Run
) -> None:
    """mark.asyncio(scope=...) warns with pytest-asyncio's text and still sets the loop scope."""
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        """
        import pytest
        import rec

        @pytest.mark.asyncio(scope="module")
        async def test_1():
            rec.note("t1", rec.loop_id())

        @pytest.mark.asyncio(loop_scope="module")
        async def test_2():
            rec.note("t2", rec.loop_id())
        """
    )
    result = run()
    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines(
        [
            '*PytestDeprecationWarning: The "scope" keyword argument to the asyncio marker has '
            'been deprecated. Please use the "loop_scope" argument instead.'
        ]
    )
    assert partition(loops_by_name(pytester)) == groups("t1 t2")


@pytest.mark.parametrize(
    "marker",
    ['pytest.mark.asyncio("module")', 'pytest.mark.asyncio(loop_scop="module")'],
    ids=["positional", "unknown-keyword"],
)
def test_marker_with_other_arguments_errors(
    pytester: pytest.Pytester, run: Run, marker: str
) -> None:
    """mark.asyncio with a positional or unknown argument fails the test (pytest-asyncio's text)."""
    pytester.makepyfile(
        test_bad=f"""
        import pytest

        @{marker}
        async def test_anything():
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_bad.py::test_anything: mark.asyncio accepts only keyword arguments "
            "'loop_scope' and 'loop_factories'."
        ]
    )


def test_marker_with_unknown_loop_scope_errors(pytester: pytest.Pytester, run: Run) -> None:
    """mark.asyncio(loop_scope="galaxy") is an error naming the test without its parameter id."""
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.asyncio(loop_scope="galaxy")
        @pytest.mark.parametrize("n", [1, 2])
        async def test_anything(n):
            pass
        """
    )
    result = run()
    # One collection error (as pytest-asyncio) or a setup error per case: either way, no pass.
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors") in (1, 2), outcomes
    assert "passed" not in outcomes, outcomes
    result.stdout.fnmatch_lines(
        [
            "*test_bad.py::test_anything: mark.asyncio got an unexpected loop scope value "
            f"'galaxy'. Valid scopes are: {SCOPES}."
        ]
    )


def test_marker_with_scope_and_loop_scope_errors(pytester: pytest.Pytester, run: Run) -> None:
    """mark.asyncio with both scope and loop_scope fails the test with pytest-asyncio's text."""
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.asyncio(scope="module", loop_scope="module")
        async def test_anything():
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            '*test_bad.py::test_anything: An asyncio pytest marker defines both "scope" and '
            '"loop_scope", but it should only use "loop_scope".'
        ]
    )


def test_marker_loop_factories_without_a_hook_errors(pytester: pytest.Pytester, run: Run) -> None:
    """mark.asyncio(loop_factories=...) with no pytest_asyncio_loop_factories hook is an error."""
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.asyncio(loop_factories=["uvloop"])
        async def test_anything():
            pass
        """
    )
    result = run()
    # As in pytest-asyncio, a collection error of the module.
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting test_bad.py*",
            "*test_bad.py::test_anything: mark.asyncio 'loop_factories' requires at least one "
            "pytest_asyncio_loop_factories hook implementation.",
        ]
    )


@pytest.mark.parametrize("source", ["decorator", "pytestmark"])
def test_asyncio_mark_on_a_sync_test_warns(
    pytester: pytest.Pytester, run: Run, source: str
) -> None:
    """A sync test carrying the asyncio mark passes with pytest-asyncio's warning."""
    mark = "@pytest.mark.asyncio\n" if source == "decorator" else ""
    module_mark = "pytestmark = pytest.mark.asyncio\n" if source == "pytestmark" else ""
    pytester.makepyfile(f"import pytest\n{module_mark}\n{mark}def test_a():\n    pass\n")
    # In-process, the inner run would inherit this suite's "error" filter.
    result = run("-W", "always::pytest.PytestWarning")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*PytestWarning: The test <Function test_a> is marked with '@pytest.mark.asyncio' but "
            "it is not an async function. Please remove the asyncio mark. If the test is not "
            "marked explicitly, check for global marks applied via 'pytestmark'."
        ]
    )


def test_asyncio_mark_on_a_sync_test_fails_it_under_filterwarnings_error(
    pytester: pytest.Pytester, run: Run
) -> None:
    """With filterwarnings = error, the warning about a marked sync test fails that test."""
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.asyncio
        def test_a():
            pass

        def test_unmarked():
            pass
        """
    )
    result = run()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   pytest.PytestWarning: The test <Function test_a> is marked with "
            "'@pytest.mark.asyncio' but it is not an async function.*",
            "FAILED *::test_a*",
        ]
    )


# -- asyncio_mode ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["ini", "pyproject", "cli"])
@pytest.mark.parametrize("mode", ["auto", "strict"])
def test_asyncio_mode_chooses_which_tests_run(
    pytester: pytest.Pytester, run: Run, how: str, mode: str
) -> None:
    """asyncio_mode / --asyncio-mode: strict runs only marked tests and pytest_asyncio fixtures."""
    pytester.makepyfile(rec=REC)
    args = configure(pytester, how, asyncio_mode=mode)
    pytester.makepyfile(
        """
        import asyncio
        import pytest
        import pytest_asyncio
        import rec

        @pytest_asyncio.fixture
        async def theirs():
            await asyncio.sleep(0)
            return "theirs"

        @pytest.mark.asyncio
        async def test_marked(theirs):
            await asyncio.sleep(0)
            rec.note("marked", theirs)

        def test_sync_gets_their_fixture(theirs):
            rec.note("sync", theirs)

        async def test_unmarked():
            await asyncio.sleep(0)
            rec.note("unmarked")
        """
    )
    result = run(*args)
    if mode == "strict":
        result.assert_outcomes(passed=2, failed=1)
        result.stdout.fnmatch_lines([NOT_SUPPORTED, "FAILED *::test_unmarked*"])
        assert sorted(read_log(pytester)) == ["marked theirs", "sync theirs"]
    else:
        result.assert_outcomes(passed=3)
        assert sorted(read_log(pytester)) == ["marked theirs", "sync theirs", "unmarked"]


def test_strict_mode_leaves_plain_async_fixtures_alone(pytester: pytest.Pytester, run: Run) -> None:
    """In strict mode an async @pytest.fixture is not run, as with pytest-asyncio."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        async def plain():
            return 1

        @pytest.mark.asyncio
        async def test_a(plain):
            pass
        """
    )
    result = run("--asyncio-mode=strict")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*requested an async fixture 'plain', with no plugin or hook*"])


@pytest.mark.parametrize(
    ("ini", "args", "unmarked_runs"),
    [
        ("awaitest_mode = auto\nasyncio_mode = strict\n", (), True),
        ("asyncio_mode = auto\n", ("--awaitest-mode=strict",), False),
        ("awaitest_mode = auto\n", ("--asyncio-mode=strict",), True),
    ],
    ids=["ini-over-ini", "cli-over-ini", "ini-over-cli"],
)
def test_awaitest_mode_wins_over_asyncio_mode(
    pytester: pytest.Pytester, run: Run, ini: str, args: tuple[str, ...], unmarked_runs: bool
) -> None:
    """When awaitest_mode and asyncio_mode are both set, awaitest's own setting decides."""
    pytester.makeini("[pytest]\n" + ini)
    pytester.makepyfile("async def test_unmarked():\n    pass\n")
    result = run(*args)
    if unmarked_runs:
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines([NOT_SUPPORTED])


@pytest.mark.parametrize("how", ["ini", "cli"])
def test_invalid_asyncio_mode_is_a_usage_error(
    pytester: pytest.Pytester, run: Run, how: str
) -> None:
    """An asyncio_mode other than auto or strict stops the run with pytest-asyncio's message."""
    args = configure(pytester, how, asyncio_mode="True")
    pytester.makepyfile("async def test_a():\n    pass\n")
    result = run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: 'True' is not a valid asyncio_mode. Valid modes: auto, strict."]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


# -- asyncio_default_fixture_loop_scope and asyncio_default_test_loop_scope --------------------


@pytest.mark.parametrize(
    "value", ["function", "class", "module", "package", "session", "fixture-scope"]
)
def test_default_fixture_loop_scope_accepts_scopes_and_fixture_scope(
    pytester: pytest.Pytester, run: Run, value: str
) -> None:
    """Every documented asyncio_default_fixture_loop_scope value is accepted, with no warning."""
    pytester.makeini(
        f"[pytest]\nasyncio_default_fixture_loop_scope = {value}\nfilterwarnings = error\n"
    )
    pytester.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.fixture(scope="session")
        async def wide():
            return asyncio.get_running_loop()

        @pytest.fixture
        async def narrow():
            return asyncio.get_running_loop()

        async def test_a(wide, narrow):
            assert wide is asyncio.get_running_loop()
        """
    )
    result = run("--strict-config")
    result.assert_outcomes(passed=1, warnings=0)


@pytest.mark.parametrize(
    "key", ["asyncio_default_fixture_loop_scope", "asyncio_default_test_loop_scope"]
)
def test_invalid_default_loop_scope_is_a_usage_error(
    pytester: pytest.Pytester, run: Run, key: str
) -> None:
    """An invalid asyncio_default_*_loop_scope stops the run with pytest-asyncio's message."""
    pytester.makeini(f"[pytest]\n{key} = galaxy\n")
    pytester.makepyfile("async def test_a():\n    pass\n")
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: 'galaxy' is not a valid {key}. Valid scopes are: {SCOPES}."]
    )


def test_default_test_loop_scope_rejects_fixture_scope(pytester: pytest.Pytester, run: Run) -> None:
    """asyncio_default_test_loop_scope = fixture-scope is an error (only fixtures have a scope)."""
    pytester.makeini("[pytest]\nasyncio_default_test_loop_scope = fixture-scope\n")
    pytester.makepyfile("async def test_a():\n    pass\n")
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: 'fixture-scope' is not a valid asyncio_default_test_loop_scope. "
            f"Valid scopes are: {SCOPES}."
        ]
    )


@pytest.mark.parametrize("how", ["ini", "pyproject", "cli"])
def test_default_test_loop_scope_pins_every_test(
    pytester: pytest.Pytester, run: Run, how: str
) -> None:
    """asyncio_default_test_loop_scope = module makes the tests of a module share one loop."""
    pytester.makepyfile(rec=REC)
    args = configure(pytester, how, asyncio_default_test_loop_scope="module")
    pytester.makepyfile(
        test_a="import rec\n" + LOG_LOOP.format(n="a1") + LOG_LOOP.format(n="a2"),
        test_b="import rec\n" + LOG_LOOP.format(n="b1") + LOG_LOOP.format(n="b2"),
    )
    result = run(*args)
    result.assert_outcomes(passed=4)
    assert partition(loops_by_name(pytester)) == groups("a1 a2", "b1 b2")


# -- asyncio_debug ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "value", "debug"),
    [
        (None, None, "False"),
        ("ini", "true", "True"),
        ("ini", "1", "True"),
        ("pyproject", "true", "True"),
        ("cli", None, "True"),
        ("cli-over-ini", "false", "True"),
    ],
)
def test_asyncio_debug_runs_loops_in_debug_mode(
    pytester: pytest.Pytester,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    how: str | None,
    value: str | None,
    debug: str,
) -> None:
    """asyncio_debug / --asyncio-debug turn on debug mode for the loops of tests and fixtures."""
    monkeypatch.delenv("PYTHONASYNCIODEBUG", raising=False)  # asyncio's own switch
    pytester.makepyfile(rec=REC)
    args: list[str] = []
    if how in ("ini", "pyproject"):
        args = configure(pytester, how, asyncio_debug=str(value))
    elif how == "cli-over-ini":
        configure(pytester, "ini", asyncio_debug=str(value))
    if how is not None and how.startswith("cli"):
        args = ["--asyncio-debug"]
    pytester.makepyfile(
        """
        import asyncio
        import pytest
        import rec

        @pytest.fixture(scope="module")
        async def wide():
            rec.note("fixture", asyncio.get_running_loop().get_debug())

        async def test_function_loop():
            rec.note("test", asyncio.get_running_loop().get_debug())

        @pytest.mark.asyncio(loop_scope="session")
        async def test_session_loop():
            rec.note("session", asyncio.get_running_loop().get_debug())

        async def test_uses_wide(wide):
            pass
        """
    )
    result = run(*args)
    result.assert_outcomes(passed=3)
    assert loops_by_name(pytester) == {"test": debug, "session": debug, "fixture": debug}


# -- a typical pytest-asyncio configuration ---------------------------------------------------

HEALTHY_SUITE = """
import asyncio
import pytest
import pytest_asyncio

@pytest_asyncio.fixture(scope="session")
async def queue():
    return asyncio.Queue()

@pytest_asyncio.fixture
async def item():
    await asyncio.sleep(0)
    yield "item"

@pytest.mark.asyncio
async def test_put(queue, item):
    await queue.put(item)

@pytest.mark.asyncio(loop_scope="session")
async def test_get(queue):
    assert await asyncio.wait_for(queue.get(), 1) == "item"

async def test_unmarked():
    await asyncio.sleep(0)

def test_sync():
    pass
"""


@pytest.mark.parametrize("how", ["ini", "pyproject"])
def test_typical_pytest_asyncio_config_runs_clean(
    pytester: pytest.Pytester, run: Run, how: str
) -> None:
    """asyncio_mode=auto + fixture loop scope function, strict everything: passes, no warnings."""
    if how == "ini":
        pytester.makeini(
            "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
            "filterwarnings = error\naddopts = --strict-markers --strict-config\n"
        )
    else:
        pytester.makepyprojecttoml(
            '[tool.pytest.ini_options]\nasyncio_mode = "auto"\n'
            'asyncio_default_fixture_loop_scope = "function"\n'
            'filterwarnings = ["error"]\naddopts = ["--strict-markers", "--strict-config"]\n'
        )
    pytester.makepyfile(HEALTHY_SUITE)
    result = run()
    result.assert_outcomes(passed=4, warnings=0)


def test_no_warning_when_default_fixture_loop_scope_is_unset(
    pytester: pytest.Pytester, run: Run
) -> None:
    """Leaving asyncio_default_fixture_loop_scope unset gives no "is unset" warning."""
    pytester.makeini("[pytest]\nasyncio_mode = strict\nfilterwarnings = error\n")
    pytester.makepyfile(HEALTHY_SUITE.replace("async def test_unmarked", "async def _unmarked"))
    result = run("-W", "error")
    result.assert_outcomes(passed=3, warnings=0)
    assert "is unset" not in result.stdout.str() + result.stderr.str()


# -- which loop tests and fixtures run on under pytest-asyncio settings --------------------------

SESSION_QUEUE_CONFTEST = """
import asyncio
import pytest_asyncio
import rec

@pytest_asyncio.fixture(scope="session")
async def queue():
    queue = asyncio.Queue()
    rec.note("queue-loop", rec.loop_id())
    yield queue
    await asyncio.wait_for(queue.join(), 1)

@pytest_asyncio.fixture(scope="session")
async def lock():
    return asyncio.Lock()
"""

QUEUE_TEST = """
async def test_{n}(queue, lock):
    rec.note("{n}", rec.loop_id())
    async with lock:
        await queue.put("{n}")
        assert await asyncio.wait_for(queue.get(), 1) == "{n}"
        queue.task_done()
"""


@pytest.mark.parametrize("default", ["function", "class", "module"])
def test_session_fixture_works_from_every_test(
    pytester: pytest.Pytester, run: Run, default: str
) -> None:
    """A session-scoped asyncio.Queue and Lock fixture work from every test with no pinned loop."""
    pytester.makepyfile(rec=REC)
    pytester.makeini(
        f"[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = {default}\n"
        "filterwarnings = error\n"
    )
    pytester.makeconftest(SESSION_QUEUE_CONFTEST)
    pytester.makepyfile(
        test_a="import asyncio\nimport rec\n"
        + QUEUE_TEST.format(n="a1")
        + QUEUE_TEST.format(n="a2"),
        test_b="import asyncio\nimport rec\n" + QUEUE_TEST.format(n="b1"),
    )
    result = run()
    result.assert_outcomes(passed=3)
    assert partition(loops_by_name(pytester)) == groups("queue-loop a1 a2 b1")


@pytest.mark.parametrize("how", ["marker", "ini"])
def test_explicit_test_loop_scope_is_honoured_beside_a_session_fixture(
    pytester: pytest.Pytester, run: Run, how: str
) -> None:
    """A test pinned to the function loop (marker or ini) runs there, not on its fixture's loop."""
    pytester.makepyfile(rec=REC)
    ini = "asyncio_default_test_loop_scope = function\n" if how == "ini" else ""
    mark = '@pytest.mark.asyncio(loop_scope="function")\n' if how == "marker" else ""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n" + ini)
    pytester.makepyfile(
        f"""
import asyncio
import pytest
import pytest_asyncio
import rec

@pytest_asyncio.fixture(scope="session")
async def wide():
    rec.note("wide", rec.loop_id())
    return asyncio.get_running_loop()

{mark}async def test_1(wide):
    rec.note("t1", rec.loop_id())

{mark}async def test_2(wide):
    rec.note("t2", rec.loop_id())
"""
    )
    result = run()
    result.assert_outcomes(passed=2)
    assert partition(loops_by_name(pytester)) == groups("wide", "t1", "t2")


@pytest.mark.parametrize("how", ["ini", "pyproject", "cli"])
def test_default_fixture_loop_scope_session_pins_narrower_fixtures(
    pytester: pytest.Pytester, run: Run, how: str
) -> None:
    """asyncio_default_fixture_loop_scope session puts module and function fixtures on one loop."""
    pytester.makepyfile(rec=REC)
    args = configure(pytester, how, asyncio_default_fixture_loop_scope="session")
    fixtures = """
import pytest
import rec

@pytest.fixture(scope="module")
async def per_module():
    rec.note("module-{m}", rec.loop_id())

@pytest.fixture
async def per_test():
    return rec.loop_id()
"""
    test = """
async def test_{n}(per_module, per_test):
    rec.note("function-{n}", per_test)
"""
    pytester.makepyfile(
        test_a=fixtures.format(m="a") + test.format(n="a1") + test.format(n="a2"),
        test_b=fixtures.format(m="b") + test.format(n="b1"),
    )
    result = run(*args)
    result.assert_outcomes(passed=3)
    assert partition(loops_by_name(pytester)) == groups(
        "module-a module-b function-a1 function-a2 function-b1"
    )


def test_fixture_made_by_real_pytest_asyncio_is_honoured_in_strict_mode(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A fixture with the real pytest_asyncio.fixture's attributes is run in strict mode."""
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        """
        import asyncio
        import pytest
        import rec

        async def made_by_real_pytest_asyncio():
            await asyncio.sleep(0)
            return rec.loop_id()

        # What pytest_asyncio.fixture(loop_scope="module") of the real package sets.
        made_by_real_pytest_asyncio._force_asyncio_fixture = True
        made_by_real_pytest_asyncio._loop_scope = "module"
        theirs = pytest.fixture(name="theirs")(made_by_real_pytest_asyncio)

        @pytest.mark.asyncio
        async def test_1(theirs):
            rec.note("f1", theirs)

        @pytest.mark.asyncio
        async def test_2(theirs):
            rec.note("f2", theirs)

        def test_sync(theirs):
            rec.note("f3", theirs)
        """
    )
    result = run("--asyncio-mode=strict")
    result.assert_outcomes(passed=3)
    assert partition(loops_by_name(pytester)) == groups("f1 f2 f3")


# -- event_loop overrides ----------------------------------------------------------------------

EVENT_LOOP_FIXTURE = """import asyncio
import pytest


@pytest.fixture(scope="session")
def event_loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
"""


@pytest.mark.parametrize("where", ["conftest.py", "test_x.py", "sub/conftest.py"])
def test_event_loop_fixture_is_refused(pytester: pytest.Pytester, run: Run, where: str) -> None:
    """A project fixture named event_loop stops the run, naming where it is and the fix."""
    pytester.makepyfile(test_x="async def test_a():\n    pass\n")
    pytester.makepyfile(**{"sub/test_y.py": "async def test_b():\n    pass\n"})
    path = pytester.path / where
    path.write_text(EVENT_LOOP_FIXTURE + (path.read_text() if path.exists() else ""))
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: {where}:5: the fixture 'event_loop' overrides the event loop, which "
            "pytest-asyncio 0.x allowed and pytest-asyncio 1.x silently ignores. awaitest "
            "refuses it rather than run your tests on a loop you did not choose. Remove the "
            "fixture: to share one loop between tests, mark them "
            "@pytest.mark.asyncio(loop_scope='session') (or let awaitest share the loop of your "
            "wide async fixtures); to choose the loop implementation, set awaitest_loop_factory."
        ]
    )


# -- the real pytest-asyncio beside awaitest ---------------------------------------------------

FAKE_PYTEST_ASYNCIO = """
def pytest_addhooks(pluginmanager):
    # Stands in for the real pytest-asyncio, whose plugin is registered as "asyncio".
    pluginmanager.register(object(), "asyncio")
"""


def test_refuses_to_run_beside_an_active_pytest_asyncio(pytester: pytest.Pytester) -> None:
    """When a plugin named "asyncio" is active too, the run stops and says how to keep one."""
    pytester.makepyfile(fake_pytest_asyncio=FAKE_PYTEST_ASYNCIO)
    pytester.makepyfile("async def test_a():\n    pass\n")
    pytester.syspathinsert()
    # Not `run`: its -p no:asyncio would block the stand-in.
    result = pytester.runpytest(
        "-p", "fake_pytest_asyncio", "-p", "awaitest", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {compat.BOTH_ACTIVE}"])


def test_no_asyncio_lets_awaitest_run_beside_pytest_asyncio(
    pytester: pytest.Pytester, run: Run
) -> None:
    """With -p no:asyncio the other plugin stays out and awaitest runs the tests."""
    pytester.makepyfile(fake_pytest_asyncio=FAKE_PYTEST_ASYNCIO)
    pytester.makepyfile("import asyncio\n\nasync def test_a():\n    await asyncio.sleep(0)\n")
    pytester.syspathinsert()
    result = run("-p", "fake_pytest_asyncio")
    result.assert_outcomes(passed=1)


def test_real_plugin_expected_follows_the_plugin_manager() -> None:
    """real_plugin_expected: blocked -> no; registered -> yes; absent and uninstalled -> no."""
    manager = pytest.PytestPluginManager()
    assert not compat.real_plugin_expected(manager)
    manager.register(object(), "asyncio")
    assert compat.real_plugin_expected(manager)
    blocked = pytest.PytestPluginManager()
    blocked.set_blocked("asyncio")
    assert not compat.real_plugin_expected(blocked)


def test_pytest_asyncio_plugin_submodule_imports(pytester: pytest.Pytester, run: Run) -> None:
    """`import pytest_asyncio.plugin` (done by some suites) gives the same shim."""
    pytester.makepyfile(
        """
        import pytest_asyncio
        import pytest_asyncio.plugin

        def test_same_names():
            assert pytest_asyncio.plugin.fixture is pytest_asyncio.fixture
            assert pytest_asyncio.plugin.is_async_test is pytest_asyncio.is_async_test
        """
    )
    run().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("fixture_scope", "wider_scope"), [("function", "module"), ("module", "session")]
)
def test_sync_pytest_asyncio_fixture_sees_its_own_loop_as_current(
    pytester: pytest.Pytester, run: Run, fixture_scope: str, wider_scope: str
) -> None:
    """A sync pytest_asyncio.fixture runs with its own loop current, even with a wider one open."""
    pytester.makeconftest(
        f"""
        import asyncio
        import pytest_asyncio

        @pytest_asyncio.fixture(autouse=True, scope="{wider_scope}", loop_scope="{wider_scope}")
        async def wider():
            yield

        @pytest_asyncio.fixture(scope="{fixture_scope}", loop_scope="{fixture_scope}")
        def captured():
            return asyncio.get_event_loop()

        @pytest_asyncio.fixture(scope="{fixture_scope}", loop_scope="{fixture_scope}")
        def captured_gen():
            loop = asyncio.get_event_loop()
            yield loop
            assert asyncio.get_event_loop() is loop
        """
    )
    pytester.makepyfile(
        f"""
        import asyncio
        import pytest

        @pytest.mark.asyncio(loop_scope="{fixture_scope}")
        async def test_same_loop(captured, captured_gen):
            assert captured is asyncio.get_running_loop()
            assert captured_gen is asyncio.get_running_loop()
        """
    )
    run("--asyncio-mode=strict", "-W", "error").assert_outcomes(passed=1)


def test_sync_generator_pytest_asyncio_fixture_yielding_twice_errors(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A sync generator fixture made with pytest_asyncio.fixture that yields twice errors."""
    pytester.makepyfile(
        """
        import pytest_asyncio

        @pytest_asyncio.fixture
        def twice():
            yield 1
            yield 2

        async def test_it(twice):
            assert twice == 1
        """
    )
    result = run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*fixture 'twice' has more than one 'yield'"])
