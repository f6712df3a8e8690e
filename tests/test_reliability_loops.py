"""Tests that misuse the event loop: a clear failure for that test, and the next are unaffected.

A test may close, stop or replace the loop it runs on, call `asyncio.run()` or
`loop.run_until_complete()` inside it, or change process-wide asyncio state (the event loop
policy) or the loop's exception handler. Whatever it did, it fails (or passes) on its own
account, and the tests after it run on a sound loop with awaitest's guards watching, whether
they share its loop or not. Inner runs that leave process-wide state behind when awaitest
fails (a policy, a coroutine collected later) go through a subprocess.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

Run = Callable[..., pytest.RunResult]

LIMIT = 60

#: The loop scopes a misbehaving test and the tests after it run with: their own loops, or one.
SCOPES = ["function", "module"]


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner runs print whole lines in their short test summary."""
    monkeypatch.setenv("COLUMNS", "300")


def suite(scope: str, culprit: str) -> str:
    """A module: the culprit test, then async and sync tests that must be unaffected."""
    return f"""
import asyncio

import pytest

pytestmark = pytest.mark.filterwarnings("error")
shared = pytest.mark.awaitest(loop_scope={scope!r})


@pytest.fixture
def current_loop():
    return asyncio.get_event_loop()


@shared
async def test_before():
    await asyncio.sleep(0)

{culprit}

@shared
async def test_after(current_loop):
    # The loop runs, is the thread's current one, and the guards still watch it.
    assert current_loop is asyncio.get_running_loop()
    await asyncio.sleep(0.01)
    assert type(asyncio.get_running_loop()).__module__.startswith("asyncio.")


@shared
async def test_after_guards_watch():
    async def crash():
        raise LookupError("crashed in the background")

    asyncio.get_running_loop().create_task(crash())
    await asyncio.sleep(0.01)


def test_after_sync():
    loop = asyncio.new_event_loop()
    try:
        assert type(loop).__module__.startswith("asyncio.")
    finally:
        loop.close()
"""


def check_unaffected(result: pytest.RunResult, culprit_outcome: str) -> None:
    """The culprit has its outcome; the tests around it pass, and the guard still fails one."""
    __tracebackhide__ = True
    for line in (
        "PASSED test_loop_misuse.py::test_before",
        "PASSED test_loop_misuse.py::test_after",
        "PASSED test_loop_misuse.py::test_after_sync",
        f"{culprit_outcome} test_loop_misuse.py::test_culprit*",
        "FAILED test_loop_misuse.py::test_after_guards_watch - Failed: "
        "test_loop_misuse.py::test_after_guards_watch: task 'Task-*' (coroutine *crash)*",
    ):
        result.stdout.fnmatch_lines([line])
    result.assert_outcomes(
        passed=3 + (culprit_outcome == "PASSED"), failed=1 + (culprit_outcome == "FAILED")
    )
    result.stdout.no_fnmatch_line("*never awaited*")


@pytest.mark.parametrize("scope", SCOPES)
def test_closing_the_running_loop_fails_that_test(
    pytester: pytest.Pytester, run: Run, scope: str
) -> None:
    """loop.close() inside the test is refused by asyncio; that test fails, alone."""
    culprit = """
@shared
async def test_culprit():
    asyncio.get_running_loop().close()
"""
    pytester.makepyfile(test_loop_misuse=suite(scope, culprit))
    result = run("-rA")
    check_unaffected(result, "FAILED")
    result.stdout.fnmatch_lines(["*RuntimeError: Cannot close a running event loop"])


@pytest.mark.parametrize("scope", SCOPES)
def test_a_loop_closed_by_sync_code_is_replaced_for_the_test(
    pytester: pytest.Pytester, run: Run, scope: str
) -> None:
    """A sync fixture closing its (maybe shared) loop: the test and the next get a new one."""
    culprit = """
import awaitest


@awaitest.fixture
def closes_the_loop():
    asyncio.get_event_loop().close()


@shared
async def test_culprit(closes_the_loop):
    await asyncio.sleep(0)
"""
    pytester.makepyfile(test_loop_misuse=suite(scope, culprit))
    result = run("-rA")
    check_unaffected(result, "PASSED")


@pytest.mark.parametrize("scope", SCOPES)
def test_stopping_the_loop_fails_that_test_naming_what_it_did(
    pytester: pytest.Pytester, run: Run, scope: str
) -> None:
    """loop.stop() inside the test fails it with a message that names the test and the stop.

    asyncio's own "Event loop stopped before Future completed." points at awaitest's frames
    and says nothing of the test's call; the test's own unwinding code still runs.
    """
    culprit = """
@shared
async def test_culprit():
    asyncio.get_running_loop().stop()
    try:
        await asyncio.sleep(1)
    finally:
        print("unwound after stop")
"""
    pytester.makepyfile(test_loop_misuse=suite(scope, culprit))
    result = run("-rA")
    check_unaffected(result, "FAILED")
    result.stdout.fnmatch_lines(
        ["FAILED test_loop_misuse.py::test_culprit - *test_culprit*stopped the event loop*"]
    )
    result.stdout.fnmatch_lines(["*unwound after stop*"])
    result.stdout.no_fnmatch_line("*awaitest/_supervise.py*")


@pytest.mark.parametrize("scope", SCOPES)
def test_replacing_the_current_loop_leaves_the_next_tests_their_own(
    pytester: pytest.Pytester, run: Run, scope: str
) -> None:
    """A test making another loop current passes; the next tests' current loop is theirs."""
    culprit = """
@shared
async def test_culprit():
    other = asyncio.new_event_loop()
    asyncio.set_event_loop(other)
    other.close()
"""
    pytester.makepyfile(test_loop_misuse=suite(scope, culprit))
    result = run("-rA")
    check_unaffected(result, "PASSED")


NESTED = {
    "asyncio-run": (
        "asyncio.run(work())",
        "RuntimeError: asyncio.run() cannot be called from a running event loop",
    ),
    "run-until-complete": (
        "asyncio.get_running_loop().run_until_complete(work())",
        "RuntimeError: This event loop is already running",
    ),
}


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("call", sorted(NESTED))
def test_running_a_loop_inside_the_running_loop_fails_that_test_alone(
    pytester: pytest.Pytester, run_subprocess: Run, call: str, scope: str
) -> None:
    """asyncio.run() / run_until_complete() inside a test fail it; nothing leaks to the next.

    The coroutine handed to the refused call is never awaited: that is the culprit's doing,
    so it must not fail a later test, nor surface as a stray RuntimeWarning.
    """
    code, error = NESTED[call]
    culprit = f"""
async def work():
    return 1


@shared
async def test_culprit():
    {code}
"""
    pytester.makepyfile(test_loop_misuse=suite(scope, culprit))
    result = run_subprocess("-rA", timeout=LIMIT)
    check_unaffected(result, "FAILED")
    result.stdout.fnmatch_lines([f"*{error}"])
    result.assert_outcomes(passed=3, failed=2, warnings=0)
    assert not result.errlines, "\n".join(result.errlines)


@pytest.mark.parametrize("scope", SCOPES)
def test_a_policy_set_by_a_test_does_not_reach_the_next_tests(
    pytester: pytest.Pytester, run_subprocess: Run, scope: str
) -> None:
    """A test installing its own event loop policy: later tests run on asyncio's loops.

    pytest-asyncio restores the policy when the test's loop closes; a policy left behind
    would give every later test (sync ones too) the project's custom loops.
    """
    culprit = """
class CustomLoop(asyncio.SelectorEventLoop):
    pass


class CustomPolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self):
        return CustomLoop()


@shared
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # policies are deprecated in 3.14
async def test_culprit():
    asyncio.set_event_loop_policy(CustomPolicy())
"""
    pytester.makepyfile(test_loop_misuse=suite(scope, culprit))
    result = run_subprocess("-rA", timeout=LIMIT)
    check_unaffected(result, "PASSED")


@pytest.mark.parametrize("scope", SCOPES)
def test_an_exception_handler_set_by_a_test_does_not_blind_the_guards_later(
    pytester: pytest.Pytester, run: Run, scope: str
) -> None:
    """A test setting its loop's exception handler: the next tests' crashed tasks still fail.

    On a shared loop the handler would stay, and swallow what the task-error guard reports.
    """
    culprit = """
@shared
async def test_culprit():
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
"""
    pytester.makepyfile(test_loop_misuse=suite(scope, culprit))
    result = run("-rA")
    check_unaffected(result, "PASSED")
