"""What happens when a timeout expires: cancel, report where, tear down, go on.

A hung async test or fixture is cancelled and reported with the await stack
it was stuck in; fixtures still tear down and the next test runs. A test
stuck in a sync call is interrupted by a signal. Deadlines are real time,
even on virtual time. Inner runs go through a subprocess, bounded in time.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

Run = Callable[..., pytest.RunResult]

#: Bound on every inner run: a broken timeout must fail the test, not hang the suite.
LIMIT = 60

TIMEOUT_FIX = (
    "Find what it waits for that never happens (an event never set, a server never "
    "answering), or give it more time with @pytest.mark.timeout(N) or awaitest_timeout."
)

NOTE = """
import pathlib


def note(line):
    with pathlib.Path(__file__).with_name("log.txt").open("a") as f:
        f.write(line + "\\n")
"""


def log_lines(pytester: pytest.Pytester) -> list[str]:
    """The lines inner tests appended to log.txt."""
    path = pytester.path / "log.txt"
    return path.read_text().splitlines() if path.exists() else []


def call_duration(result: pytest.RunResult, nodeid: str) -> float:
    """The duration of a test's call phase, from the --durations report."""
    for line in result.stdout.lines:
        match = re.match(rf"\s*([\d.]+)s call\s+{re.escape(nodeid)}$", line)
        if match:
            return float(match.group(1))
    raise AssertionError(f"no call duration for {nodeid} in the output")


def test_expiry_reports_the_await_stack_and_the_other_tasks(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """The message shows the user's line the test waited at and the tasks still pending."""
    pytester.makepyfile(
        test_orders="""
        import asyncio

        import pytest


        async def poll_bank(paid):
            while True:
                await asyncio.sleep(0.05)


        async def wait_for_payment(paid):
            await paid.wait()


        @pytest.mark.timeout(0.3)
        async def test_waits_for_payment():
            paid = asyncio.Event()
            poller = asyncio.create_task(poll_bank(paid), name="poller")
            try:
                await wait_for_payment(paid)
            finally:
                poller.cancel()


        async def test_next():
            pass
        """
    )
    result = run_subprocess(timeout=LIMIT)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "test_orders.py::test_waits_for_payment: the test timed out after 0.3 s "
            "(@pytest.mark.timeout); awaitest cancelled it while it was waiting at:",
            "  test_orders.py:20 in test_waits_for_payment",
            "      await wait_for_payment(paid)",
            "  test_orders.py:12 in wait_for_payment",
            "      await paid.wait()",
            "  ... (1 frame in libraries)",
            "Other pending tasks (1):",
            "  task 'poller' (coroutine poll_bank), created at test_orders.py:18, waiting at:",
            "      test_orders.py:8 in poll_bank",
            "          await asyncio.sleep(0.05)",
            "      ... (1 frame in libraries)",
            TIMEOUT_FIX,
        ]
    )


def test_fixtures_tear_down_after_a_timeout(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """A timed-out test's fixtures still tear down, and awaitest's own tasks are not listed."""
    pytester.makepyfile(
        NOTE
        + """
import asyncio

import pytest


@pytest.fixture
async def connection():
    note("async setup")
    yield
    await asyncio.sleep(0)
    note("async teardown")


@pytest.fixture
def sync_resource():
    yield
    note("sync teardown")


@pytest.mark.timeout(0.3)
async def test_hangs(sync_resource, connection):
    try:
        await asyncio.Event().wait()
    finally:
        note("finally")


async def test_next():
    note("next test")
"""
    )
    result = run_subprocess(timeout=LIMIT)
    result.assert_outcomes(failed=1, passed=1)
    assert log_lines(pytester) == [
        "async setup",
        "finally",
        "async teardown",
        "sync teardown",
        "next test",
    ]
    result.stdout.fnmatch_lines(["*test_hangs: the test timed out after 0.3 s*"])
    result.stdout.no_fnmatch_line("Other pending tasks*")
    result.stdout.no_fnmatch_line("*FixtureLifetime*")


@pytest.mark.parametrize("kind", ["yield", "return"])
def test_hanging_fixture_setup_is_an_error_naming_the_fixture(
    pytester: pytest.Pytester, run_subprocess: Run, kind: str
) -> None:
    """An async fixture whose setup hangs is a setup error naming it and the line it waited at."""
    pytester.makeini("[pytest]\nawaitest_timeout = 0.3\n")
    pytester.makepyfile(
        test_db=NOTE
        + f"""
import asyncio

import pytest


@pytest.fixture
async def database():
    await asyncio.Event().wait()
    {kind} "db"


async def test_query(database):
    note("test ran")


async def test_next():
    note("next test")
"""
    )
    result = run_subprocess(timeout=LIMIT)
    result.assert_outcomes(errors=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_query _*",
            "test_db.py::test_query: the setup of fixture 'database' timed out after 0.3 s (the "
            "awaitest_timeout ini key); awaitest cancelled it while it was waiting at:",
            "  test_db.py:15 in database",
            "      await asyncio.Event().wait()",
        ]
    )
    assert log_lines(pytester) == ["next test"]


def test_hanging_fixture_teardown_is_an_error(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """An async fixture whose teardown hangs is a teardown error; the test itself passed."""
    pytester.makepyfile(
        test_db="""
        import asyncio

        import pytest


        @pytest.fixture
        async def database():
            yield "db"
            await asyncio.Event().wait()


        async def test_query(database):
            pass


        async def test_next():
            pass
        """
    )
    result = run_subprocess("--awaitest-timeout=0.3", timeout=LIMIT)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_query _*",
            "test_db.py::test_query: the teardown of fixture 'database' timed out after 0.3 s "
            "(--awaitest-timeout); awaitest cancelled it while it was waiting at:",
            "  test_db.py:9 in database",
            "      await asyncio.Event().wait()",
        ]
    )


def test_a_test_that_swallows_the_cancellation_is_stopped_anyway(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """A test catching CancelledError and waiting on is stopped, with a message saying so."""
    pytester.makepyfile(
        test_stubborn="""
        import asyncio

        import pytest


        @pytest.mark.timeout(0.3)
        async def test_stubborn():
            while True:
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    pass


        async def test_next():
            pass
        """
    )
    result = run_subprocess(timeout=20)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "test_stubborn.py::test_stubborn: the test timed out after 0.3 s "
            "(@pytest.mark.timeout); awaitest cancelled it while it was waiting at:",
            "  test_stubborn.py:10 in test_stubborn",
            "The test did not stop when cancelled (it caught CancelledError); awaitest stopped "
            "the loop.",
        ]
    )


def test_blocking_call_in_an_async_test_is_interrupted(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """A test stuck in time.sleep is interrupted by a signal and fails with the line."""
    pytester.makepyfile(
        test_sync_io="""
        import time


        async def test_fetch():
            time.sleep(30)


        async def test_next():
            pass
        """
    )
    result = run_subprocess("--timeout=0.3", "--durations=0", "--durations-min=0", timeout=LIMIT)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "test_sync_io.py::test_fetch: the test timed out after 0.3 s (--timeout) while "
            "blocked in a sync call, which cannot be cancelled; the thread was at:",
            "  test_sync_io.py:5 in test_fetch",
            "      time.sleep(30)",
            "awaitest interrupted the call with a signal. Blocking calls stop the event loop: "
            "await an async equivalent, or use 'await asyncio.to_thread(...)'.",
        ]
    )
    assert call_duration(result, "test_sync_io.py::test_fetch") < 5


def test_sync_test_past_its_timeout_is_interrupted(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """Without pytest-timeout, a sync test gets the same treatment; the run continues."""
    pytester.makepyfile(
        test_sync="""
        import time

        import pytest


        @pytest.mark.timeout(0.3)
        def test_sleeps():
            time.sleep(30)


        def test_next():
            pass
        """
    )
    result = run_subprocess(timeout=LIMIT)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "test_sync.py::test_sleeps: the test timed out after 0.3 s (@pytest.mark.timeout); "
            "it was at:",
            "  test_sync.py:8 in test_sleeps",
            "      time.sleep(30)",
            f"awaitest interrupted it with a signal. {TIMEOUT_FIX}",
        ]
    )


# -- virtual time ----------------------------------------------------------------------------


def test_deadlines_are_real_time_on_virtual_time(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """An hour asleep on virtual time passes a 0.5 s timeout; waiting forever fails after 0.5 s."""
    pytester.makepyfile(
        test_virtual="""
        import asyncio
        import time

        import pytest

        pytestmark = pytest.mark.awaitest(virtual_time=True)


        async def test_sleeps_an_hour():
            loop = asyncio.get_running_loop()
            started = time.monotonic()
            await asyncio.sleep(3600)
            assert loop.time() == 3600
            assert time.monotonic() - started < 0.5


        async def test_waits_forever():
            await asyncio.Event().wait()
        """
    )
    result = run_subprocess("--timeout=0.5", "--durations=0", "--durations-min=0", timeout=LIMIT)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_virtual.py::test_waits_forever: the test timed out after 0.5 s (--timeout); "
            "awaitest cancelled it while it was waiting at:",
            "  test_virtual.py:18 in test_waits_forever",
        ]
    )
    assert 0.4 < call_duration(result, "test_virtual.py::test_waits_forever") < 5
