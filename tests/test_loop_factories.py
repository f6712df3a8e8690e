"""Loop factories: which event-loop implementation async tests run on.

A factory is named in the ini file (`awaitest_loop_factory`) or the marker
(`loop_factory=`): `asyncio`, `uvloop`, `package.module:callable` or a
callable, optionally with an id (`id=spec`). Several factories run every
awaitest-run async test once on each, with the factory's id in the test id.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import awaitest
from inner import LOG_HELPER, events

Run = Callable[..., pytest.RunResult]

#: A custom loop factory module for inner runs.
MYLOOPS = """
import asyncio

class MyLoop(asyncio.SelectorEventLoop):
    pass

def new_loop():
    return MyLoop()
"""


def write_config(pytester: pytest.Pytester, how: str, value: str | None) -> list[str]:
    """Write the ini (or pyproject) with `pythonpath = .`; return extra CLI args."""
    setting = "" if value is None or how != "ini" else f"awaitest_loop_factory = {value}\n"
    if how == "pyproject":
        toml_value = "" if value is None else f"awaitest_loop_factory = {value.split()!r}\n"
        pytester.makepyprojecttoml(
            f'[tool.pytest.ini_options]\npythonpath = ["."]\n{toml_value}'.replace("'", '"')
        )
    else:
        pytester.makeini(f"[pytest]\npythonpath = .\n{setting}")
    if how == "cli" and value is not None:
        return ["-o", f"awaitest_loop_factory={value}"]
    return []


@pytest.mark.parametrize(
    ("how", "marker"),
    [
        ("ini", ""),
        ("pyproject", ""),
        ("cli", ""),
        ("marker-string", "@pytest.mark.awaitest(loop_factory='myloops:new_loop')"),
        ("marker-callable", "@pytest.mark.awaitest(loop_factory=new_loop)"),
    ],
)
def test_custom_loop_factory_runs_tests_on_its_loop(
    pytester: pytest.Pytester, run: Run, how: str, marker: str
) -> None:
    """Tests and their async fixtures run on the loop class a custom factory makes."""
    pytester.makepyfile(myloops=MYLOOPS)
    args = write_config(pytester, how, None if how.startswith("marker") else "myloops:new_loop")
    pytester.makepyfile(
        test_custom=f"""
import asyncio
import pytest
from myloops import MyLoop, new_loop

@pytest.fixture
async def fixture_loop():
    return asyncio.get_running_loop()

{marker}
async def test_on_my_loop(fixture_loop):
    loop = asyncio.get_running_loop()
    assert type(loop) is MyLoop
    assert fixture_loop is loop
"""
    )
    result = run(*args)
    result.assert_outcomes(passed=1)


def test_marker_loop_factory_applies_only_where_it_is(pytester: pytest.Pytester, run: Run) -> None:
    """A class marker's loop_factory covers the class; other tests keep the default loop."""
    pytester.makepyfile(myloops=MYLOOPS)
    write_config(pytester, "ini", None)
    pytester.makepyfile(
        test_scoped="""
import asyncio
import pytest
from myloops import MyLoop

@pytest.mark.awaitest(loop_factory="myloops:new_loop")
class TestMine:
    async def test_mine(self):
        assert type(asyncio.get_running_loop()) is MyLoop

async def test_default():
    assert type(asyncio.get_running_loop()) is not MyLoop
"""
    )
    result = run()
    result.assert_outcomes(passed=2)


def test_uvloop_from_the_ini_file(pytester: pytest.Pytester, run: Run) -> None:
    """awaitest_loop_factory = uvloop runs async tests and fixtures on uvloop."""
    pytest.importorskip("uvloop")
    pytester.makeini("[pytest]\nawaitest_loop_factory = uvloop\n")
    pytester.makepyfile(
        test_uv="""
import asyncio
import pytest
import uvloop

@pytest.fixture(scope="session")
async def session_loop():
    return asyncio.get_running_loop()

async def test_on_uvloop(session_loop):
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
    assert asyncio.get_running_loop() is session_loop

async def test_own_loop():
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
"""
    )
    result = run()
    result.assert_outcomes(passed=2)


def test_two_factories_parametrize_each_async_test(pytester: pytest.Pytester, run: Run) -> None:
    """With asyncio and uvloop configured, each async test runs twice, [asyncio] and [uvloop]."""
    pytest.importorskip("uvloop")
    pytester.makeini("[pytest]\nawaitest_loop_factory = asyncio uvloop\n")
    pytester.makepyfile(
        test_both=LOG_HELPER
        + """
import asyncio
import pytest

@pytest.fixture
async def fixture_loop():
    return asyncio.get_running_loop()

async def test_loop(request, fixture_loop):
    loop = asyncio.get_running_loop()
    assert fixture_loop is loop
    log(f"{request.node.name} {type(loop).__module__.split('.')[0]}")

def test_sync():
    log("test_sync")
"""
    )
    result = run("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "test_both.py::test_loop[[]asyncio[]] PASSED*",
            "test_both.py::test_loop[[]uvloop[]] PASSED*",
            "test_both.py::test_sync PASSED*",
        ]
    )
    result.stdout.no_fnmatch_line("*test_sync[[]*")
    assert sorted(events(pytester)) == [
        "test_loop[asyncio] asyncio",
        "test_loop[uvloop] uvloop",
        "test_sync",
    ]


@pytest.mark.parametrize(
    ("ini", "marker"),
    [
        ("plain=asyncio mine=myloops:new_loop", ""),
        ("", "@pytest.mark.awaitest(loop_factory=['plain=asyncio', 'mine=myloops:new_loop'])"),
        ("", "@pytest.mark.awaitest(loop_factory={'plain': 'asyncio', 'mine': new_loop})"),
    ],
    ids=["ini", "marker-list", "marker-dict"],
)
def test_factory_ids_name_the_parametrized_tests(
    pytester: pytest.Pytester, run: Run, ini: str, marker: str
) -> None:
    """An id given to a factory (id=spec, or a dict key) becomes the test id."""
    pytester.makepyfile(myloops=MYLOOPS)
    setting = f"awaitest_loop_factory = {ini}\n" if ini else ""
    pytester.makeini(f"[pytest]\npythonpath = .\n{setting}")
    pytester.makepyfile(
        test_ids=LOG_HELPER
        + f"""
import asyncio
import pytest
from myloops import MyLoop, new_loop

{marker}
async def test_loop(request):
    mine = type(asyncio.get_running_loop()) is MyLoop
    log(f"{{request.node.name}} mine={{mine}}")
"""
    )
    result = run("-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "test_ids.py::test_loop[[]plain[]] PASSED*",
            "test_ids.py::test_loop[[]mine[]] PASSED*",
        ]
    )
    assert events(pytester) == ["test_loop[plain] mine=False", "test_loop[mine] mine=True"]


def test_custom_factory_default_id_is_the_module_name(pytester: pytest.Pytester, run: Run) -> None:
    """Without an explicit id, a 'package.module:callable' factory is named by its module."""
    pytester.makepyfile(myloops=MYLOOPS)
    pytester.makeini("[pytest]\npythonpath = .\nawaitest_loop_factory = asyncio myloops:new_loop\n")
    pytester.makepyfile(test_default_ids="async def test_x():\n    pass\n")
    result = run("-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "test_default_ids.py::test_x[[]asyncio[]] PASSED*",
            "test_default_ids.py::test_x[[]myloops[]] PASSED*",
        ]
    )


def test_parametrized_test_sharing_a_session_loop_errors(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A test wanting uvloop but sharing the session fixture's asyncio loop errors, saying why."""
    pytest.importorskip("uvloop")
    pytester.makeini("[pytest]\nawaitest_loop_factory = asyncio uvloop\n")
    pytester.makepyfile(
        test_conflict="""
import pytest

@pytest.fixture(scope="session")
async def client():
    return object()

async def test_uses_client(client):
    pass
"""
    )
    result = run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_conflict.py::test_uses_client[[]uvloop[]] wants a 'uvloop' loop, but it "
            "shares the session loop (a 'asyncio' loop) with wider-scoped async fixtures, and a "
            "shared loop has one implementation.*",
        ]
    )


@pytest.mark.parametrize(
    ("ini", "shown"),
    [
        ("", "loop=asyncio"),
        ("awaitest_loop_factory = uvloop\n", "loop=uvloop"),
        ("awaitest_loop_factory = asyncio uvloop\n", "loop=asyncio, uvloop"),
        ("awaitest_loop_factory = plain=asyncio fast=uvloop\n", "loop=plain, fast"),
    ],
    ids=["default", "uvloop", "two", "ids"],
)
def test_report_header_shows_the_loops(
    pytester: pytest.Pytester, run: Run, ini: str, shown: str
) -> None:
    """The report header names the configured loop factories by id."""
    pytest.importorskip("uvloop")
    pytester.makeini(f"[pytest]\n{ini}")
    pytester.makepyfile(test_header="def test_x():\n    pass\n")
    result = run()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"awaitest {awaitest.__version__}: mode=auto, {shown}, loop_scope=auto, *"]
    )
