"""Concurrent tests' reports: order, outcomes, durations, junitxml, output, warnings.

Every inner suite here runs its tests together (proved by `Meeting`, see
inner.py) and checks that what pytest reports is what a sequential run
would say: each test's own outcome, duration, output, log
records and warnings, in collection order.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from inner import CHAIN, CONCURRENT, read_log, verbose_lines, write_suite

Run = Callable[..., pytest.RunResult]


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


def test_pytest_warns_sees_only_its_own_tests_warnings(pytester: pytest.Pytester, run: Run) -> None:
    """pytest.warns in one test is not satisfied by a warning another test raises meanwhile.

    test_expects_a_warning's own code never warns: it must fail ("DID NOT WARN"),
    and test_warns' warning must be listed under test_warns.
    """
    body = """
import warnings


async def test_expects_a_warning():
    with pytest.warns(DeprecationWarning, match="old api"):
        await meeting()
        await finished("warns").wait()


async def test_warns():
    await meeting()
    warnings.warn("old api", DeprecationWarning)
    finished("warns").set()
    await asyncio.sleep(0)
"""
    write_suite(pytester, CONCURRENT + "meeting = Meeting(2)\n" + CHAIN, body)
    result = run("-v")
    assert verbose_lines(result) == [
        "test_suite.py::test_expects_a_warning FAILED",
        "test_suite.py::test_warns PASSED",
    ]
    result.stdout.fnmatch_lines(
        [
            "*DID NOT WARN*",
            "*= warnings summary =*",
            "test_suite.py::test_warns",
            "*test_suite.py:*: DeprecationWarning: old api",
        ]
    )
