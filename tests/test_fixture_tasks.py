"""One task per fixture lifetime: async-generator fixtures hold task groups and scopes.

An async-generator fixture's setup and teardown run in one task, so anything
that must be entered and exited in the same task (asyncio.TaskGroup,
asyncio.timeout(), anyio task groups and cancel scopes) can be held across its
`yield`. When background work held that way fails while a test uses the
fixture, the test is cancelled and fails naming the fixture.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from inner import LOG_HELPER, events

Run = Callable[..., pytest.RunResult]

needs_taskgroup = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="asyncio.TaskGroup and asyncio.timeout() need Python 3.11"
)


@pytest.mark.parametrize("scope", ["function", "module", "session"])
def test_generator_fixture_setup_and_teardown_run_in_one_task(
    pytester: pytest.Pytester, run: Run, scope: str
) -> None:
    """An async-generator fixture's teardown runs in the task that ran its setup."""
    pytester.makepyfile(
        LOG_HELPER
        + f"""
import asyncio
import pytest

@pytest.fixture(scope={scope!r})
async def resource():
    setup_task = asyncio.current_task()
    yield setup_task
    same = asyncio.current_task() is setup_task
    log(f"teardown: task exists={{setup_task is not None}} same task={{same}}")

async def test_one(resource):
    log("test_one")

async def test_two(resource):
    log("test_two")
"""
    )
    result = run()
    result.assert_outcomes(passed=2)
    teardown = "teardown: task exists=True same task=True"
    if scope == "function":
        assert events(pytester) == ["test_one", teardown, "test_two", teardown]
    else:
        assert events(pytester) == ["test_one", "test_two", teardown]


@needs_taskgroup
@pytest.mark.parametrize("scope", ["function", "session"])
def test_taskgroup_held_across_yield_runs_its_child_during_the_test(
    pytester: pytest.Pytester, run: Run, scope: str
) -> None:
    """A TaskGroup child started in setup runs while the test runs and is joined at teardown."""
    pytester.makepyfile(
        LOG_HELPER
        + f"""
import asyncio
import pytest

@pytest.fixture(scope={scope!r})
async def worker():
    stop = asyncio.Event()
    seen = []

    async def child():
        while not stop.is_set():
            seen.append("tick")
            await asyncio.sleep(0.001)
        log("child stopped")

    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(child())
        yield seen, task
        stop.set()
    log(f"joined: done={{task.done()}} error={{task.exception()}}")

async def test_child_runs(worker):
    seen, task = worker
    before = len(seen)
    await asyncio.sleep(0.02)
    assert len(seen) > before
    assert not task.done()
    log("test_child_runs")

async def test_child_still_runs(worker):
    seen, task = worker
    before = len(seen)
    await asyncio.sleep(0.02)
    assert len(seen) > before
    log("test_child_still_runs")
"""
    )
    result = run()
    result.assert_outcomes(passed=2)
    teardown = ["child stopped", "joined: done=True error=None"]
    if scope == "function":
        expected = ["test_child_runs", *teardown, "test_child_still_runs", *teardown]
    else:
        expected = ["test_child_runs", "test_child_still_runs", *teardown]
    assert events(pytester) == expected


@needs_taskgroup
def test_timeout_held_across_yield_still_governs_the_teardown(
    pytester: pytest.Pytester, run: Run
) -> None:
    """An asyncio.timeout() entered in setup survives the test and still times out teardown."""
    pytester.makepyfile(
        LOG_HELPER
        + """
import asyncio
import pytest

@pytest.fixture
async def deadline():
    try:
        async with asyncio.timeout(30) as cm:
            yield cm
            log(f"teardown: expired={cm.expired()}")
            cm.reschedule(asyncio.get_running_loop().time() + 0.01)
            await asyncio.sleep(3)
            log("teardown: the timeout did not fire")
    except TimeoutError:
        log("teardown: timed out")

async def test_uses_deadline(deadline):
    await asyncio.sleep(0.01)
    assert deadline.when() is not None
    log("test")
"""
    )
    result = run()
    result.assert_outcomes(passed=1, errors=0)
    assert events(pytester) == ["test", "teardown: expired=False", "teardown: timed out"]


@needs_taskgroup
def test_timeout_held_across_yield_that_expires_fails_the_test(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A fixture's timeout expiring mid-test fails the test: FixtureCrashedError, TimeoutError."""
    pytester.makepyfile(
        LOG_HELPER
        + """
import asyncio
import pytest

@pytest.fixture
async def deadline():
    async with asyncio.timeout(0.05):
        yield

async def test_too_slow(deadline):
    try:
        await asyncio.sleep(3)
    except asyncio.CancelledError:
        log("test cancelled")
        raise
    log("test finished sleeping")

async def test_later():
    log("test_later")
"""
    )
    result = run()
    result.assert_outcomes(passed=1, failed=1, errors=0)
    result.stdout.fnmatch_lines(
        [
            "*FixtureCrashedError: fixture 'deadline' failed while the test was using it "
            "(the test was cancelled): it raised TimeoutError*",
            "FAILED test_timeout_held_across_yield_that_expires_fails_the_test.py::test_too_slow*",
        ]
    )
    assert events(pytester) == ["test cancelled", "test_later"]


@pytest.mark.parametrize("scope", ["function", "session"])
def test_anyio_task_group_held_across_yield_in_asyncio_fixture(
    pytester: pytest.Pytester, run: Run, scope: str
) -> None:
    """An anyio task group entered in setup runs its task during the test, left at teardown."""
    pytester.makepyfile(
        LOG_HELPER
        + f"""
import anyio
import pytest

@pytest.fixture(scope={scope!r})
async def service():
    ticks = []

    async def ticker():
        try:
            while True:
                ticks.append(1)
                await anyio.sleep(0.001)
        finally:
            log("ticker cancelled")

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        yield ticks
        tg.cancel_scope.cancel()
    log("task group left")

async def test_ticks(service):
    before = len(service)
    await anyio.sleep(0.02)
    assert len(service) > before
    log("test_ticks")

async def test_still_ticks(service):
    before = len(service)
    await anyio.sleep(0.02)
    assert len(service) > before
    log("test_still_ticks")
"""
    )
    result = run()
    result.assert_outcomes(passed=2, errors=0)
    teardown = ["ticker cancelled", "task group left"]
    if scope == "function":
        expected = ["test_ticks", *teardown, "test_still_ticks", *teardown]
    else:
        expected = ["test_ticks", "test_still_ticks", *teardown]
    assert events(pytester) == expected


@pytest.mark.parametrize("scope", ["function", "session"])
@pytest.mark.parametrize("enter", ["anyio.CancelScope()", "anyio.move_on_after(30)"])
def test_anyio_cancel_scope_held_across_yield_in_asyncio_fixture(
    pytester: pytest.Pytester, run: Run, scope: str, enter: str
) -> None:
    """An anyio cancel scope entered in setup can be exited in teardown (same task)."""
    pytester.makepyfile(
        LOG_HELPER
        + f"""
import anyio
import pytest

@pytest.fixture(scope={scope!r})
async def scoped():
    with {enter} as cancel_scope:
        yield cancel_scope
        await anyio.sleep(0)
    log(f"scope left: cancelled_caught={{cancel_scope.cancelled_caught}}")

async def test_one(scoped):
    await anyio.sleep(0.001)
    assert not scoped.cancel_called
    log("test_one")

async def test_two(scoped):
    log("test_two")
"""
    )
    result = run()
    result.assert_outcomes(passed=2, errors=0)
    teardown = "scope left: cancelled_caught=False"
    if scope == "function":
        assert events(pytester) == ["test_one", teardown, "test_two", teardown]
    else:
        assert events(pytester) == ["test_one", "test_two", teardown]


@needs_taskgroup
def test_taskgroup_child_crash_during_test_fails_the_test(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A TaskGroup child crashing mid-test cancels the test and fails it naming the fixture."""
    pytester.makepyfile(
        LOG_HELPER
        + """
import asyncio
import pytest

@pytest.fixture
async def crashing():
    async def worker():
        await asyncio.sleep(0.02)
        raise RuntimeError("worker died")

    async with asyncio.TaskGroup() as tg:
        tg.create_task(worker())
        yield

async def test_uses_crashing(crashing):
    try:
        await asyncio.sleep(3)
    except asyncio.CancelledError:
        log("test cancelled")
        raise

async def test_later_async():
    await asyncio.sleep(0)
    log("test_later_async")

def test_later_sync():
    log("test_later_sync")
"""
    )
    result = run()
    result.assert_outcomes(passed=2, failed=1, errors=0)
    result.stdout.fnmatch_lines(
        [
            "*FixtureCrashedError: fixture 'crashing' failed while the test was using it "
            "(the test was cancelled): it raised ExceptionGroup: unhandled errors in a TaskGroup"
            " (1 sub-exception). The fixture's traceback is below; fix the fixture's background"
            " work (a task group or timeout held across its yield).",
            "*Exception Group Traceback*",
            "*, in crashing",
            "*async with asyncio.TaskGroup() as tg:",
            "*RuntimeError: worker died",
        ]
    )
    result.stdout.fnmatch_lines(
        ["FAILED test_taskgroup_child_crash_during_test_fails_the_test.py::test_uses_crashing*"]
    )
    assert events(pytester) == ["test cancelled", "test_later_async", "test_later_sync"]


@pytest.mark.parametrize("scope", ["function", "session"])
def test_anyio_task_group_child_crash_during_test_fails_the_test(
    pytester: pytest.Pytester, run: Run, scope: str
) -> None:
    """An anyio task group child crashing mid-test fails the test, not its teardown."""
    pytester.makepyfile(
        f"""
import anyio
import pytest

@pytest.fixture(scope={scope!r})
async def crashing():
    async def worker():
        await anyio.sleep(0.02)
        raise RuntimeError("worker died")

    async with anyio.create_task_group() as tg:
        tg.start_soon(worker)
        yield

async def test_uses_crashing(crashing):
    await anyio.sleep(3)

async def test_later():
    await anyio.sleep(0)
"""
    )
    result = run()
    result.assert_outcomes(passed=1, failed=1, errors=0)
    result.stdout.fnmatch_lines(
        [
            "*FixtureCrashedError: fixture 'crashing' failed while the test was using it "
            "(the test was cancelled): it raised ExceptionGroup: *",
        ]
    )


@needs_taskgroup
def test_crash_failure_is_a_fixture_crashed_error(pytester: pytest.Pytester, run: Run) -> None:
    """The failure raised for a crashed fixture is awaitest.FixtureCrashedError, a RuntimeError."""
    pytester.makeconftest(
        LOG_HELPER
        + """
import pytest
import awaitest

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.excinfo is not None:
        exc = call.excinfo.value
        log(f"{report.when} {type(exc).__name__} "
            f"crashed={isinstance(exc, awaitest.FixtureCrashedError)} "
            f"base={isinstance(exc, awaitest.AwaitestError)} "
            f"runtime={isinstance(exc, RuntimeError)}")
    return report
"""
    )
    pytester.makepyfile(
        """
import asyncio
import pytest

@pytest.fixture
async def crashing():
    async def worker():
        await asyncio.sleep(0.01)
        raise ValueError("bad state")

    async with asyncio.TaskGroup() as tg:
        tg.create_task(worker())
        yield

async def test_uses_crashing(crashing):
    await asyncio.sleep(3)
"""
    )
    result = run()
    result.assert_outcomes(failed=1, errors=0)
    assert events(pytester) == ["call FixtureCrashedError crashed=True base=True runtime=True"]
