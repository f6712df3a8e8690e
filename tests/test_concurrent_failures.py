"""Concurrent tests' failures that stay with their test: timeouts and the guards.

A hung test times out alone while the tests beside it pass; a leaked task
or a never-awaited coroutine fails the test that made it, not the tests
running beside it (they pass a `Meeting`, see inner.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inner import CHAIN, CONCURRENT, read_log, verbose_lines, write_suite

Run = Callable[..., pytest.RunResult]

#: Bound on subprocess runs: a lost wake-up must fail the test, not hang the suite.
LIMIT = 60


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
