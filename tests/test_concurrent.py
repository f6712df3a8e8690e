"""Concurrent tests (issue 8): every way of opting in, and every mistake pinned.

Overlap is proved, never timed: inner tests wait in a `Meeting` that lets
them through only once all of them wait in it, so tests run one by one
would fail it (after a bounded wait, so a regression fails fast instead of
hanging). Tests that must not overlap log their start and end, and the
outer test checks nothing else happened in between. Elsewhere: fixtures in
test_concurrent_fixtures.py; reports and output in test_concurrent_reports.py;
timeouts and guards in test_concurrent_failures.py; tests that run alone and
the cap in test_concurrent_alone.py; sequential neighbours, -x, Ctrl-C and
xdist in test_concurrent_session.py.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from inner import TWO_PAIRS, assert_alone, read_log, write_suite

Run = Callable[..., pytest.RunResult]

#: Three tests that pass only if they overlap, each noting its start and end.
THREE_MEET = """
    async def test_a({self}):
        note("start a")
        await meeting()
        note("end a")

    async def test_b({self}):
        note("start b")
        await meeting()
        note("end b")

    async def test_c({self}):
        note("start c")
        await meeting()
        note("end c")
"""


# -- opting in ----------------------------------------------------------------------------


@pytest.mark.parametrize("way", ["test", "class", "module", "ini", "pyproject"])
def test_every_way_of_opting_in_runs_the_tests_together(
    pytester: pytest.Pytester, run: Run, way: str
) -> None:
    """The marker on each test, a class or a module, or awaitest_concurrent: tests overlap."""
    marker = "@pytest.mark.awaitest(concurrent=True)"
    body = THREE_MEET.format(self="")
    header = "meeting = Meeting(3)\n"
    if way == "test":
        body = body.replace("    async def", f"    {marker}\n    async def")
    elif way == "class":
        body = f"{marker}\nclass TestSuite:\n" + THREE_MEET.format(self="self")
    elif way == "module":
        header += "pytestmark = pytest.mark.awaitest(concurrent=True)\n"
    elif way == "ini":
        pytester.makeini("[pytest]\nawaitest_concurrent = true\n")
    else:
        pytester.makepyprojecttoml('[tool.pytest.ini_options]\nawaitest_concurrent = "true"\n')
    if way != "class":
        body = body.replace("\n    ", "\n")
    write_suite(pytester, header, body)
    result = run("-v")
    result.assert_outcomes(passed=3)
    assert sorted(read_log(pytester)[:3]) == ["start a", "start b", "start c"]


def test_without_opting_in_tests_run_one_by_one(pytester: pytest.Pytester, run: Run) -> None:
    """The control: on one loop but not opted in, the first two tests wait in vain."""
    header = "meeting = Meeting(3, timeout=0.2)\n"
    header += "pytestmark = pytest.mark.awaitest(loop_scope='module')\n"
    write_suite(pytester, header, THREE_MEET.format(self="").replace("\n    ", "\n"))
    result = run()
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(["*AssertionError: only 1 of 3 tests met", "*only 2 of 3*"])
    assert read_log(pytester) == ["start a", "start b", "start c", "end c"]


@pytest.mark.parametrize("where", ["test", "class"])
def test_concurrent_false_opts_out_of_the_ini_key(
    pytester: pytest.Pytester, run: Run, where: str
) -> None:
    """concurrent=False on a test or class beats awaitest_concurrent = true: it runs alone."""
    pytester.makeini("[pytest]\nawaitest_concurrent = true\n")
    marker = "@pytest.mark.awaitest(concurrent=False)"
    test = """
async def test_alone({self}):
    note("start alone")
    await asyncio.sleep(0.05)
    note("end alone")
"""
    if where == "test":
        alone = marker + test.format(self="")
    else:
        alone = f"{marker}\nclass TestAlone:" + textwrap.indent(test.format(self="self"), "    ")
    body = TWO_PAIRS.format(self="", alone=alone)
    write_suite(pytester, "first, second = Meeting(2), Meeting(2)\n", body)
    result = run()
    result.assert_outcomes(passed=5)
    log = read_log(pytester)
    assert_alone(log, "alone")
    assert (
        log.index("end b")
        < log.index("start alone")
        < log.index("end alone")
        < log.index("start c")
    )


# -- user mistakes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "value", "nodeid"),
    [
        ("test", "'yes'", "test_suite.py::test_it"),
        ("class", "1", "test_suite.py::TestIt::test_it"),
        ("module", "'true'", "test_suite.py::test_it"),
    ],
)
def test_concurrent_must_be_true_or_false(
    pytester: pytest.Pytester, run: Run, where: str, value: str, nodeid: str
) -> None:
    """A non-bool concurrent= is a setup error of each test it applies to, pinned."""
    marker = f"pytest.mark.awaitest(concurrent={value})"
    if where == "test":
        source = f"@{marker}\nasync def test_it():\n    pass\n"
    elif where == "class":
        source = f"@{marker}\nclass TestIt:\n    async def test_it(self):\n        pass\n"
    else:
        source = f"pytestmark = {marker}\n\n\nasync def test_it():\n    pass\n"
    pytester.makepyfile(test_suite="import pytest\n\n\n" + source)
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of *test_it _*",
            f"{nodeid}: @pytest.mark.awaitest(concurrent={value}) must be True or False.",
        ]
    )


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        (
            "awaitest_concurrent = maybe",
            "awaitest_concurrent: invalid value 'maybe'; expected true or false.",
        ),
        (
            "awaitest_max_concurrency = 0",
            "awaitest_max_concurrency: invalid value '0'; expected a whole number of tests, 1 or "
            "more (default 100; set it in the ini file).",
        ),
        (
            "awaitest_max_concurrency = lots",
            "awaitest_max_concurrency: invalid value 'lots'; expected a whole number of tests, 1 "
            "or more (default 100; set it in the ini file).",
        ),
    ],
    ids=["concurrent-maybe", "max-0", "max-lots"],
)
def test_bad_ini_value_is_a_usage_error(
    pytester: pytest.Pytester, run: Run, ini: str, message: str
) -> None:
    """An unusable concurrency ini value stops the run before collection, with its message."""
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_suite="async def test_it():\n    pass\n")
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_concurrent_with_a_function_loop_scope_is_an_error(
    pytester: pytest.Pytester, run: Run
) -> None:
    """Tests on a loop of their own cannot run together: the marker contradicts itself."""
    pytester.makepyfile(
        test_suite="""
        import pytest


        @pytest.mark.awaitest(concurrent=True, loop_scope="function")
        async def test_it():
            pass


        async def test_next():
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_it _*",
            "test_suite.py::test_it: @pytest.mark.awaitest(concurrent=True, "
            "loop_scope='function') contradicts itself: concurrent tests run together on the "
            "loop of their module or class. Remove loop_scope, or concurrent.",
        ]
    )


def test_concurrent_marker_on_a_sync_test_is_an_error(pytester: pytest.Pytester, run: Run) -> None:
    """The marker on a sync test itself is the usual misuse error: nothing would run."""
    pytester.makepyfile(
        test_suite="""
        import pytest


        @pytest.mark.awaitest(concurrent=True)
        def test_sync():
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_sync _*",
            "test_suite.py::test_sync: is marked @pytest.mark.awaitest but is a sync function, "
            "so there is nothing for awaitest to run. Make the test 'async def', or remove the "
            "marker.",
        ]
    )


@pytest.mark.parametrize("way", ["module", "class", "ini"])
def test_sync_tests_under_a_wider_opt_in_run_as_usual(
    pytester: pytest.Pytester, run: Run, way: str
) -> None:
    """A module/class marker or the ini key covering sync tests is fine: they run alone."""
    marker = "pytest.mark.awaitest(concurrent=True)"
    header = "first, second = Meeting(2), Meeting(2)\n"
    if way == "module":
        header += f"pytestmark = {marker}\n"
    elif way == "ini":
        pytester.makeini("[pytest]\nawaitest_concurrent = true\n")
    sync = """
def test_sync(self):
    note("start sync")
    note("end sync")
"""
    methods = textwrap.indent(TWO_PAIRS.format(self="self", alone=sync), "    ")
    body = (f"@{marker}\n" if way == "class" else "") + "class TestSuite:\n" + methods
    write_suite(pytester, header, body)
    result = run()
    result.assert_outcomes(passed=5)
    log = read_log(pytester)
    assert_alone(log, "sync")
    assert log.index("end b") < log.index("start sync")
    assert log.index("end sync") < log.index("start c")
