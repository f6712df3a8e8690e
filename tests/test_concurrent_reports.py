"""Concurrent tests' reports: order, outcomes, durations, junitxml, output, failures, guards.

Every inner suite here runs its tests together (proved by `Meeting`, see
test_concurrent.py) and checks that what pytest reports is what a
sequential run would say: each test's own outcome, output, log records,
warnings, timeout and guard findings, in collection order.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from inner import read_log
from test_concurrent import write_suite

Run = Callable[..., pytest.RunResult]

#: Bound on subprocess runs: a lost wake-up must fail the test, not hang the suite.
LIMIT = 60

CONCURRENT = "pytestmark = pytest.mark.awaitest(concurrent=True)\n"

#: `finished(name)` is an event set when the test `name` ends: later tests set it, so
#: earlier ones finish last.
CHAIN = """
ENDED = {}


def finished(name):
    return ENDED.setdefault(name, asyncio.Event())
"""


#: A `-v` result line: nodeid, outcome (and reason), percentage.
VERBOSE = re.compile(r"(test_suite\.py::\S+ (?:PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS).*?)\s+\[")


def verbose_lines(result: pytest.RunResult) -> list[str]:
    """The `-v` result lines (nodeid and outcome), as printed, without the percentages."""
    return [m.group(1) for line in result.stdout.lines if (m := VERBOSE.match(line))]


def test_reports_come_in_collection_order(pytester: pytest.Pytester, run: Run) -> None:
    """Tests finishing in reverse order are still reported in collection order."""
    body = """
async def test_a():
    await meeting()
    await finished("b").wait()
    note("end a")


async def test_b():
    await meeting()
    await finished("c").wait()
    note("end b")
    finished("b").set()


async def test_c():
    await meeting()
    note("end c")
    finished("c").set()
"""
    write_suite(pytester, CONCURRENT + "meeting = Meeting(3)\n" + CHAIN, body)
    result = run("-v")
    result.assert_outcomes(passed=3)
    assert read_log(pytester) == ["end c", "end b", "end a"]
    assert verbose_lines(result) == [
        "test_suite.py::test_a PASSED",
        "test_suite.py::test_b PASSED",
        "test_suite.py::test_c PASSED",
    ]


MIXED = """
@pytest.fixture
async def broken():
    await asyncio.sleep(0)
    raise RuntimeError("cannot connect")


@pytest.fixture
async def resource(request):
    await asyncio.sleep(0)
    yield
    await asyncio.sleep(0)
    note("teardown", request.node.name)


async def test_passes(resource):
    await meeting()


async def test_fails(resource):
    await meeting()
    assert 1 + 1 == 3


async def test_setup_error(resource, broken):
    pass


async def test_skipped(resource):
    await asyncio.sleep(0)
    pytest.skip("not today")


@pytest.mark.xfail(reason="known bug")
async def test_xfails(resource):
    await meeting()
    raise ValueError("the known bug")


async def test_passes_too(resource):
    await meeting()
"""


def test_each_test_gets_its_own_outcome(pytester: pytest.Pytester, run: Run) -> None:
    """A failure and a setup error among passing tests: each reported as itself, everywhere.

    The -v lines, the failure and error sections, the short summary, the counts and
    the junitxml entries all say what a sequential run would; every test tears down.
    """
    write_suite(pytester, CONCURRENT + "meeting = Meeting(4)\n", MIXED)
    result = run("-v", "-ra", "--junitxml=report.xml")
    result.assert_outcomes(passed=2, failed=1, errors=1, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert verbose_lines(result) == [
        "test_suite.py::test_passes PASSED",
        "test_suite.py::test_fails FAILED",
        "test_suite.py::test_setup_error ERROR",
        "test_suite.py::test_skipped SKIPPED (not today)",
        "test_suite.py::test_xfails XFAIL (known bug)",
        "test_suite.py::test_passes_too PASSED",
    ]
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_setup_error _*",
            '>       raise RuntimeError("cannot connect")',
            "E       RuntimeError: cannot connect",
            "*_ test_fails _*",
            ">       assert 1 + 1 == 3",
            "*= short test summary info =*",
            "SKIPPED [[]1] test_suite.py:40: not today",
            "XFAIL test_suite.py::test_xfails - known bug",
            "ERROR test_suite.py::test_setup_error - RuntimeError: cannot connect",
            "FAILED test_suite.py::test_fails - assert (1 + 1) == 3",
        ]
    )
    names = ["passes", "fails", "setup_error", "skipped", "xfails", "passes_too"]
    assert sorted(read_log(pytester)) == sorted(f"teardown test_{name}" for name in names)
    cases = ET.parse(pytester.path / "report.xml").getroot().iter("testcase")
    outcomes = {
        case.get("name"): [child.tag for child in case if child.tag != "properties"]
        for case in cases
    }
    assert outcomes == {
        "test_passes": [],
        "test_fails": ["failure"],
        "test_setup_error": ["error"],
        "test_skipped": ["skipped"],
        "test_xfails": ["skipped"],
        "test_passes_too": [],
    }


def test_durations_are_each_tests_own(pytester: pytest.Pytester, run: Run) -> None:
    """Each test has setup, call and teardown durations; a test's call includes its awaits.

    The slow test sleeps 0.3 s after the meeting: its call lasts at least that long
    (a lower bound only: nothing here depends on how fast the machine is).
    """
    body = """
async def test_quick():
    await meeting()


async def test_slow():
    await meeting()
    await asyncio.sleep(0.3)
"""
    write_suite(pytester, CONCURRENT + "meeting = Meeting(2)\n", body)
    result = run("--durations=0", "-vv", "--junitxml=report.xml")
    result.assert_outcomes(passed=2)
    durations: dict[tuple[str, str], float] = {}
    for line in result.stdout.lines:
        parts = line.split()
        if len(parts) == 3 and parts[0].endswith("s") and parts[2].startswith("test_suite.py"):
            durations[parts[1], parts[2].split("::")[1]] = float(parts[0][:-1])
    assert set(durations) == {
        (when, test)
        for when in ("setup", "call", "teardown")
        for test in ("test_quick", "test_slow")
    }
    assert durations["call", "test_slow"] >= 0.3
    cases = ET.parse(pytester.path / "report.xml").getroot().iter("testcase")
    times = {case.get("name"): float(case.get("time", "0")) for case in cases}
    assert times["test_slow"] >= 0.3


OUTPUT = """
import logging
import sys


@pytest.fixture
async def resource(request):
    print("setup of", request.node.name)
    yield
    await asyncio.sleep(0)
    print("teardown of", request.node.name)


async def side_job(name):
    await asyncio.sleep(0)
    print("side job of", name)


async def test_a(resource):
    print("a before")
    logging.getLogger("app").warning("log of a")
    await meeting()
    await finished("b").wait()
    print("a after", file=sys.stderr)


async def test_b(resource):
    print("b before")
    await meeting()
    await asyncio.create_task(side_job("b"))
    print("b after")
    logging.getLogger("app").warning("log of b")
    finished("b").set()


async def test_c(resource):
    print("c before", file=sys.stderr)
    await meeting()
    print("c after")
"""


def test_each_tests_output_is_its_own(pytester: pytest.Pytester, run: Run) -> None:
    """stdout, stderr and log records written while tests overlap land in the right section.

    Including what a task the test started prints, and its fixtures' setup and
    teardown output.
    """
    write_suite(pytester, CONCURRENT + "meeting = Meeting(3)\n" + CHAIN, OUTPUT)
    result = run("-rA")
    result.assert_outcomes(passed=3)
    passes = result.stdout.str().split("= PASSES =")[1].split("= short test summary")[0]
    section = passes.splitlines()[1:-1]
    assert [line for line in section if not line.startswith(("___", "---"))] == [
        "setup of test_a",
        "a before",
        "a after",
        "WARNING  app:test_suite.py:36 log of a",
        "teardown of test_a",
        "setup of test_b",
        "b before",
        "side job of b",
        "b after",
        "WARNING  app:test_suite.py:47 log of b",
        "teardown of test_b",
        "setup of test_c",
        "c after",
        "c before",
        "teardown of test_c",
    ]
    result.stdout.fnmatch_lines(
        [
            "*_ test_a _*",
            "*- Captured stdout setup -*",
            "setup of test_a",
            "*- Captured stdout call -*",
            "a before",
            "*- Captured stderr call -*",
            "a after",
            "*- Captured log call -*",
            "WARNING  app:test_suite.py:36 log of a",
            "*- Captured stdout teardown -*",
            "teardown of test_a",
            "*_ test_b _*",
            "*- Captured stdout call -*",
            "b before",
            "side job of b",
            "b after",
            "*_ test_c _*",
            "*- Captured stdout call -*",
            "c after",
            "*- Captured stderr call -*",
            "c before",
        ]
    )


def test_warnings_are_each_tests_own(pytester: pytest.Pytester, run: Run) -> None:
    """A warning raised while tests overlap is listed under the test that raised it."""
    body = """
import warnings


async def test_quiet():
    await meeting()
    await asyncio.sleep(0)


async def test_warns():
    await meeting()
    warnings.warn("deprecated call", DeprecationWarning)


async def test_quiet_too():
    await meeting()
    await asyncio.sleep(0)
"""
    write_suite(pytester, CONCURRENT + "meeting = Meeting(3)\n", body)
    result = run()
    result.assert_outcomes(passed=3, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*= warnings summary =*",
            "test_suite.py::test_warns",
            "*test_suite.py:*: DeprecationWarning: deprecated call",
        ]
    )
    assert "test_suite.py::test_quiet" not in result.stdout.str()


# -- failures that stay with their test -------------------------------------------------


HANG = """
async def test_before():
    await meeting()
    note("end before")


{marker}
async def test_stuck():
    await meeting()
    try:
        await asyncio.Event().wait()
    finally:
        note("stuck cancelled")
        finished("stuck").set()


@pytest.mark.awaitest(timeout=10)
async def test_after():
    await meeting()
    await finished("stuck").wait()
    note("end after")
"""


@pytest.mark.parametrize(
    ("way", "source"),
    [
        ("marker", "@pytest.mark.awaitest(timeout=...)"),
        ("ini", "the awaitest_timeout ini key"),
    ],
)
def test_a_hanging_test_times_out_alone(
    pytester: pytest.Pytester, run_subprocess: Run, way: str, source: str
) -> None:
    """The hung test is cancelled at its timeout; the tests around it carry on and pass.

    test_before ends while it hangs; test_after waits for it to be cancelled.
    """
    marker = ""
    if way == "marker":
        marker = "@pytest.mark.awaitest(timeout=0.5)"
    else:
        pytester.makeini("[pytest]\nawaitest_timeout = 0.5\n")
    write_suite(pytester, CONCURRENT + "meeting = Meeting(3)\n" + CHAIN, HANG.format(marker=marker))
    result = run_subprocess("-v", timeout=LIMIT)
    result.assert_outcomes(passed=2, failed=1)
    assert verbose_lines(result) == [
        "test_suite.py::test_before PASSED",
        "test_suite.py::test_stuck FAILED",
        "test_suite.py::test_after PASSED",
    ]
    assert read_log(pytester) == ["end before", "stuck cancelled", "end after"]
    result.stdout.fnmatch_lines(
        [
            "*_ test_stuck _*",
            f"test_suite.py::test_stuck: the test timed out after 0.5 s ({source}); awaitest "
            "cancelled it while it was waiting at:",
            "  test_suite.py:26 in test_stuck",
            "      await asyncio.Event().wait()",
            "  ... (1 frame in libraries)",
            "*",
            "Find what it waits for that never happens*",
        ]
    )


def test_a_timed_out_tests_message_lists_none_of_its_neighbours_tasks(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """The timeout message's "other pending tasks" are the test's own, not its neighbours'.

    test_after, still running when test_stuck times out, is no clue to why
    test_stuck hung: the message ends right after the stuck test's await stack.
    """
    marker = "@pytest.mark.awaitest(timeout=0.5)"
    write_suite(pytester, CONCURRENT + "meeting = Meeting(3)\n" + CHAIN, HANG.format(marker=marker))
    result = run_subprocess(timeout=LIMIT)
    result.assert_outcomes(passed=2, failed=1)
    failure = result.stdout.str().split("_ test_stuck _")[1].split("= short test summary")[0]
    assert failure.splitlines()[1:6] == [
        "test_suite.py::test_stuck: the test timed out after 0.5 s "
        "(@pytest.mark.awaitest(timeout=...)); awaitest cancelled it while it was waiting at:",
        "  test_suite.py:26 in test_stuck",
        "      await asyncio.Event().wait()",
        "  ... (1 frame in libraries)",
        "Find what it waits for that never happens (an event never set, a server never "
        "answering), or give it more time with @pytest.mark.timeout(N) or awaitest_timeout.",
    ]


def test_a_leaked_task_fails_the_test_that_leaked_it(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """Under strict guards, the test that left a task running errors; its neighbours pass."""
    body = """
async def heartbeat():
    await asyncio.sleep(60)


async def test_clean():
    await meeting()


async def test_leaks():
    asyncio.create_task(heartbeat())
    await meeting()


async def test_clean_too():
    await meeting()
"""
    write_suite(pytester, CONCURRENT + "meeting = Meeting(3)\n", body)
    result = run_subprocess("-v", "--awaitest-guards=strict", timeout=LIMIT)
    result.assert_outcomes(passed=3, errors=1)
    assert verbose_lines(result) == [
        "test_suite.py::test_clean PASSED",
        "test_suite.py::test_leaks PASSED",
        "test_suite.py::test_leaks ERROR",
        "test_suite.py::test_clean_too PASSED",
    ]
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_leaks _*",
            "test_suite.py::test_leaks: left a task running when it ended; awaitest cancelled it:",
            "  task 'Task-*' (coroutine heartbeat), created at test_suite.py:20, waiting at:",
            "      test_suite.py:12 in heartbeat",
            "          await asyncio.sleep(60)",
            "      ... (1 frame in libraries)",
            "Cancel and await the tasks the test starts*",
            "*= short test summary info =*",
            "ERROR test_suite.py::test_leaks - Failed: test_suite.py::test_leaks: left a t*",
        ]
    )


def test_a_leaked_task_that_is_garbage_collected_is_blamed_on_its_test(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """A leaked task nothing refers to is destroyed while pending: still its test's finding.

    Only the task refers to the Event it waits on, so once the test is over the
    garbage collector destroys it ("Task was destroyed but it is pending!"). That
    must be reported against the test that created the task, not whichever test
    happens to run when the collector does.
    """
    body = """
async def waits_forever():
    await asyncio.Event().wait()


async def test_clean():
    await meeting()


async def test_leaks():
    asyncio.create_task(waits_forever())
    await meeting()
"""
    write_suite(pytester, CONCURRENT + "meeting = Meeting(2)\n", body)
    result = run_subprocess("-v", timeout=LIMIT)
    assert verbose_lines(result) == [
        "test_suite.py::test_clean PASSED",
        "test_suite.py::test_leaks FAILED",
    ]
    result.stdout.fnmatch_lines(
        [
            "*_ test_leaks _*",
            "test_suite.py::test_leaks: task 'Task-*' (coroutine waits_forever), created at "
            "test_suite.py:20, *",
        ]
    )


def test_a_never_awaited_coroutine_fails_only_its_test(pytester: pytest.Pytester, run: Run) -> None:
    """A coroutine one overlapping test dropped fails that test, with the usual message."""
    body = """
async def save():
    pass


async def test_clean():
    await meeting()


async def test_forgets():
    save()
    await meeting()


async def test_clean_too():
    await meeting()
"""
    write_suite(pytester, CONCURRENT + "meeting = Meeting(3)\n", body)
    result = run("-v")
    result.assert_outcomes(passed=2, failed=1)
    assert verbose_lines(result) == [
        "test_suite.py::test_clean PASSED",
        "test_suite.py::test_forgets FAILED",
        "test_suite.py::test_clean_too PASSED",
    ]
    result.stdout.fnmatch_lines(
        [
            "*_ test_forgets _*",
            "test_suite.py::test_forgets: the coroutine 'save' was created but never awaited "
            "(at test_suite.py:20). Add 'await', or wrap it in asyncio.create_task() and keep a "
            "reference to the task.",
        ]
    )
