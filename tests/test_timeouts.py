"""Per-test timeouts: a hung test is cancelled, says where it hung, and the run goes on.

Every way of setting a timeout (pytest-timeout's names, which work without
it, and awaitest's own) is parametrized in one test, and their precedence in
another. Inner runs go through a subprocess, bounded in time, because
timeouts use a watchdog thread and SIGALRM; their timeouts are a fraction of
a second. pytest-timeout itself is in test_timeouts_pytest_timeout.py.
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


AWAITEST_MARKER = "@pytest.mark.awaitest(timeout=...)"


def log_lines(pytester: pytest.Pytester) -> list[str]:
    """The lines inner tests appended to log.txt."""
    path = pytester.path / "log.txt"
    return path.read_text().splitlines() if path.exists() else []


NOTE = """
import pathlib


def note(line):
    with pathlib.Path(__file__).with_name("log.txt").open("a") as f:
        f.write(line + "\\n")
"""

HANG = """
import asyncio

import pytest

{marker}
async def test_waits():
    await asyncio.Event().wait()


async def test_next():
    pass
"""


@pytest.mark.parametrize(
    ("way", "source"),
    [
        ("timeout-marker", "@pytest.mark.timeout"),
        ("timeout-ini", "the timeout ini key"),
        ("--timeout", "--timeout"),
        ("PYTEST_TIMEOUT", "PYTEST_TIMEOUT"),
        ("awaitest-marker", "@pytest.mark.awaitest(timeout=...)"),
        ("awaitest_timeout-ini", "the awaitest_timeout ini key"),
        ("awaitest_timeout-pyproject", "the awaitest_timeout ini key"),
        ("--awaitest-timeout", "--awaitest-timeout"),
    ],
)
def test_every_way_of_setting_a_timeout(
    pytester: pytest.Pytester,
    run_subprocess: Run,
    monkeypatch: pytest.MonkeyPatch,
    way: str,
    source: str,
) -> None:
    """Each way cancels a hung async test after its timeout and names where it was set."""
    marker, args = "", []
    if way == "timeout-marker":
        marker = "@pytest.mark.timeout(0.3)"
    elif way == "awaitest-marker":
        marker = "@pytest.mark.awaitest(timeout=0.3)"
    elif way == "timeout-ini":
        pytester.makeini("[pytest]\ntimeout = 0.3\n")
    elif way == "awaitest_timeout-ini":
        pytester.makeini("[pytest]\nawaitest_timeout = 0.3\n")
    elif way == "awaitest_timeout-pyproject":
        pytester.makepyprojecttoml('[tool.pytest.ini_options]\nawaitest_timeout = "0.3"\n')
    elif way == "PYTEST_TIMEOUT":
        monkeypatch.setenv("PYTEST_TIMEOUT", "0.3")
    else:
        args = [f"{way}=0.3"]
    pytester.makepyfile(test_hang=HANG.format(marker=marker))
    result = run_subprocess(*args, timeout=LIMIT)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_waits _*",
            f"test_hang.py::test_waits: the test timed out after 0.3 s ({source}); awaitest "
            "cancelled it while it was waiting at:",
            "  test_hang.py:7 in test_waits",
            "      await asyncio.Event().wait()",
        ]
    )
    if "marker" not in way:
        result.stdout.fnmatch_lines(["awaitest *, timeout=0.3s"])


@pytest.mark.parametrize(
    ("ini", "markers", "args", "source"),
    [
        ("", ["timeout(0.3)"], ["--timeout=5"], "@pytest.mark.timeout"),
        ("", ["timeout(5)"], ["--timeout=0.3"], None),
        ("", ["timeout(0)"], ["--timeout=0.3"], None),
        ("timeout = 5", [], ["--timeout=0.3"], "--timeout"),
        ("timeout = 0.3", [], ["--timeout=5"], None),
        ("awaitest_timeout = 0.3", [], ["--timeout=5"], None),
        ("", ["awaitest(timeout=0.3)"], ["--awaitest-timeout=5"], AWAITEST_MARKER),
        ("", ["awaitest(timeout=5)"], ["--awaitest-timeout=0.3"], None),
        ("", ["timeout(0.3)", "awaitest(timeout=5)"], [], None),
        ("", ["timeout(5)", "awaitest(timeout=0.3)"], [], AWAITEST_MARKER),
        ("", [], ["--awaitest-timeout=5", "--timeout=0.3"], None),
        ("awaitest_timeout = 5\ntimeout = 0.3", [], [], None),
    ],
    ids=[
        "marker-beats-cli", "marker-beats-cli-longer", "marker-0-is-no-timeout",
        "cli-beats-ini", "cli-beats-ini-longer", "cli-beats-awaitest-ini",
        "awaitest-marker-beats-awaitest-cli", "awaitest-marker-beats-awaitest-cli-longer",
        "awaitest-marker-beats-timeout-marker", "awaitest-marker-beats-timeout-marker-shorter",
        "awaitest-cli-beats-timeout-cli", "awaitest-ini-beats-timeout-ini",
    ],
)  # fmt: skip
def test_marker_beats_command_line_beats_ini(
    pytester: pytest.Pytester,
    run_subprocess: Run,
    ini: str,
    markers: list[str],
    args: list[str],
    source: str | None,
) -> None:
    """The closest setting wins; at one level awaitest's name beats pytest-timeout's.

    The test sleeps 0.6 s: it fails if the winning timeout is 0.3 s, passes if 5 s or none.
    """
    pytester.makeini(f"[pytest]\n{ini}\n")
    decorators = "".join(f"@pytest.mark.{marker}\n" for marker in markers)
    pytester.makepyfile(
        test_order=(
            "import asyncio\n\nimport pytest\n\n\n"
            f"{decorators}async def test_sleeps():\n    await asyncio.sleep(0.6)\n"
        )
    )
    result = run_subprocess(*args, timeout=LIMIT)
    if source is None:
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(
            [f"test_order.py::test_sleeps: the test timed out after 0.3 s ({source});*"]
        )


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
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(poll_bank(paid), name="poller")
                await wait_for_payment(paid)


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
            "  task 'poller' (coroutine poll_bank), created at test_orders.py:19, waiting at:",
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


def call_duration(result: pytest.RunResult, nodeid: str) -> float:
    """The duration of a test's call phase, from the --durations report."""
    for line in result.stdout.lines:
        match = re.match(rf"\s*([\d.]+)s call\s+{re.escape(nodeid)}$", line)
        if match:
            return float(match.group(1))
    raise AssertionError(f"no call duration for {nodeid} in the output")


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


# -- bad values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--awaitest-timeout=-1"], "--awaitest-timeout: '-1' is not a number of seconds"),
        (["--timeout=soon"], "--timeout: 'soon' is not a number of seconds"),
        (["-o", "awaitest_timeout=soon"], "the awaitest_timeout ini key: 'soon' is not a number "
         "of seconds"),
        (["-o", "timeout=inf"], "the timeout ini key: 'inf' is not a number of seconds"),
    ],
    ids=["--awaitest-timeout", "--timeout", "awaitest_timeout", "timeout"],
)  # fmt: skip
def test_bad_session_timeout_is_a_usage_error(
    pytester: pytest.Pytester, run: Run, args: list[str], message: str
) -> None:
    """A timeout that is not a number of seconds stops the run, naming where it was set."""
    pytester.makepyfile(test_any="async def test_any(): ...")
    result = run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}; write e.g. 10 or 0.5 (0: no limit)."])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("awaitest(timeout='soon')",
         "@pytest.mark.awaitest(timeout=...): 'soon' is not a number of seconds; write e.g. 10 "
         "or 0.5 (0: no limit)."),
        ("timeout('soon')",
         "@pytest.mark.timeout('soon'): 'soon' is not a number of seconds; write e.g. 10 or 0.5 "
         "(0: no limit)."),
        ("timeout()", "@pytest.mark.timeout needs a number of seconds, e.g. "
         "@pytest.mark.timeout(10)."),
    ],
    ids=["awaitest", "timeout", "timeout-empty"],
)  # fmt: skip
def test_bad_marker_timeout_is_one_setup_error(
    pytester: pytest.Pytester, run: Run, marker: str, message: str
) -> None:
    """A bad timeout in a marker is one error at that test's setup; the other tests run."""
    pytester.makepyfile(
        test_marked=f"""
        import pytest


        @pytest.mark.{marker}
        async def test_marked():
            pass


        async def test_other():
            pass
        """
    )
    result = run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_marked _*",
            f"test_marked.py::test_marked: {message}",
        ]
    )
