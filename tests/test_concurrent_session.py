"""Concurrent groups in a whole session: sequential neighbours, -x, Ctrl-C, pytest-xdist.

A group of concurrent tests is one stretch of a module: sequential tests
before and after it, and other modules, run as usual, and wider fixtures
are torn down once, in order. Stopping early (-x, --maxfail) starts no
new test; Ctrl-C tears every running test down and prints the summary.
With pytest-xdist each worker runs its share of the tests concurrently.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inner import CONCURRENT, MEET, REC, read_log, suite, write_suite

Run = Callable[..., pytest.RunResult]

#: Bound on subprocess runs: a lost wake-up must fail the test, not hang the suite.
LIMIT = 60

#: Session and module fixtures noting their setup and teardown, and a function fixture
#: noting which test it tore down.
CONFTEST = """
import asyncio
import os
import signal
import threading
import time

import pytest

from rec import note


@pytest.fixture(scope="session")
async def sess():
    note("sess up")
    yield
    await asyncio.sleep(0)
    note("sess down")


@pytest.fixture(scope="module")
async def mod(sess, request):
    note("mod up", request.module.__name__)
    yield
    await asyncio.sleep(0)
    note("mod down", request.module.__name__)


@pytest.fixture
async def fn(mod, request):
    yield
    await asyncio.sleep(0)
    note("fn down", request.node.name)


def send_sigint_soon():
    def send():
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=send, daemon=True).start()
"""


# -- sequential neighbours ------------------------------------------------------------


MIXED_MODULE = suite(
    "together = pytest.mark.awaitest(concurrent=True)\nmeeting = Meeting(2)\n",
    """
def test_sync_first(mod):
    note("sync first")


async def test_async_first(fn):
    note("async first")


@together
async def test_a(fn):
    await meeting()
    note("end a")


@together
async def test_b(fn):
    await meeting()
    note("end b")


async def test_async_after(fn):
    note("async after")


def test_sync_last(mod):
    note("sync last")
""",
)

OTHER_MODULE = suite(
    CONCURRENT + "meeting = Meeting(2)\n",
    """
async def test_c(fn):
    await meeting()
    note("end c")


async def test_d(fn):
    await meeting()
    note("end d")
""",
)


def test_sequential_tests_around_a_group_run_as_usual(pytester: pytest.Pytester, run: Run) -> None:
    """Sequential tests before and after a group, and a group in another module, all pass.

    Module fixtures are set up once per module and torn down once, after the
    module's last test; the session fixture after everything.
    """
    pytester.makepyfile(rec=REC, meet=MEET, conftest=CONFTEST)
    pytester.makepyfile(test_first=MIXED_MODULE, test_second=OTHER_MODULE)
    result = run("-v")
    result.assert_outcomes(passed=8)
    log = read_log(pytester)
    assert log[:5] == [
        "sess up",
        "mod up test_first",
        "sync first",
        "async first",
        "fn down test_async_first",
    ]
    assert sorted(log[5:9]) == ["end a", "end b", "fn down test_a", "fn down test_b"]
    assert log[9:14] == [
        "async after",
        "fn down test_async_after",
        "sync last",
        "mod down test_first",
        "mod up test_second",
    ]
    assert sorted(log[14:18]) == ["end c", "end d", "fn down test_c", "fn down test_d"]
    assert log[18:] == ["mod down test_second", "sess down"]


# -- stopping early -------------------------------------------------------------------


STOPS = """
failed = asyncio.Event()


@pytest.fixture
async def resource(request):
    yield
    await asyncio.sleep(0)
    note("teardown", request.node.name)


async def test_a(resource):
    await meeting()
    await failed.wait()
    note("end a")


async def test_fails(resource):
    await meeting()
    failed.set()
    assert 1 + 1 == 3


async def test_later(resource):
    note("started later")


async def test_last(resource):
    note("started last")
"""


@pytest.mark.parametrize("option", ["-x", "--maxfail=1"])
def test_stopping_at_the_first_failure_starts_no_new_test(
    pytester: pytest.Pytester, run: Run, option: str
) -> None:
    """With two tests running at most, a failure stops the run: the later tests never start.

    The test already running beside the failing one finishes and is reported.
    """
    pytester.makeini("[pytest]\nawaitest_max_concurrency = 2\n")
    write_suite(pytester, CONCURRENT + "meeting = Meeting(2)\n", STOPS)
    result = run("-v", option)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_suite.py::test_a PASSED*",
            "test_suite.py::test_fails FAILED*",
            "*! stopping after 1 failures !*",
            "*= 1 failed, 1 passed in *",
        ]
    )
    assert sorted(read_log(pytester)) == ["end a", "teardown test_a", "teardown test_fails"]


def test_stopping_lets_the_running_tests_finish(pytester: pytest.Pytester, run: Run) -> None:
    """Without a cap every test has started when one fails: they all finish and are reported."""
    write_suite(pytester, CONCURRENT + "meeting = Meeting(2)\n", STOPS)
    result = run("-v", "-x")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*! stopping after 1 failures !*"])
    log = read_log(pytester)
    for name in ("test_a", "test_fails", "test_later", "test_last"):
        assert log.count(f"teardown {name}") == 1, log


# -- Ctrl-C -----------------------------------------------------------------------------


#: Imports the conftest's `send_sigint_soon()`, for a real SIGINT during the run.
SEND_SIGINT = "from conftest import send_sigint_soon\n\n"

INTERRUPTED = """
async def test_done(fn):
    await meeting()
    note("end done")


async def test_waits(fn):
    await meeting()
    try:
        await asyncio.sleep(30)
    finally:
        note("waits unwound")


async def test_interrupts(fn):
    await meeting()
    {interrupt}
"""


@pytest.mark.parametrize(
    "interrupt",
    [
        "raise KeyboardInterrupt",
        "send_sigint_soon()\n    await asyncio.sleep(30)",
    ],
    ids=["raise", "sigint"],
)
def test_ctrl_c_tears_every_running_test_down(
    pytester: pytest.Pytester, run_subprocess: Run, interrupt: str
) -> None:
    """Ctrl-C (a real SIGINT, or KeyboardInterrupt raised by a test) while tests overlap.

    The waiting tests are cancelled where they wait; every fixture is torn
    down, the tests that finished are reported, the summary is printed, and
    the exit code says the run was interrupted.
    """
    write_suite(
        pytester,
        SEND_SIGINT + CONCURRENT + "meeting = Meeting(3)\n",
        INTERRUPTED.format(interrupt=interrupt),
        conftest=CONFTEST,
        test_zz_never="from rec import note\n\n\ndef test_never():\n    note('never')\n",
    )
    result = run_subprocess("-v", timeout=LIMIT)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "test_suite.py::test_done PASSED*",
            "*! KeyboardInterrupt !*",
            "*= 1 passed in *",
        ]
    )
    log = read_log(pytester)
    assert "never" not in log
    assert log[:2] == ["sess up", "mod up test_suite"]
    assert log[-2:] == ["mod down test_suite", "sess down"]
    finished = ["end done", "fn down test_done", "fn down test_interrupts"]
    assert sorted(log[2:-2]) == sorted([*finished, "waits unwound", "fn down test_waits"])
    assert log.index("waits unwound") < log.index("fn down test_waits")


# -- pytest-xdist -------------------------------------------------------------------------


XDIST_MODULE = suite(
    "import os\n\n" + CONCURRENT + "meeting = Meeting(3)\n",
    """
@pytest.mark.parametrize("n", range(3))
async def test_meets(n, fn):
    await meeting()
    note(__name__, n, os.environ["PYTEST_XDIST_WORKER"])


async def test_fails(fn):
    assert False, __name__
""",
)


def test_each_xdist_worker_runs_its_share_concurrently(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """With -n 2, each worker runs its module's tests together; reports name the right test."""
    pytester.makepyfile(rec=REC, meet=MEET, conftest=CONFTEST)
    pytester.makepyfile(test_one=XDIST_MODULE, test_two=XDIST_MODULE)
    result = run_subprocess("-n", "2", "--dist", "loadfile", "-v", timeout=LIMIT)
    result.assert_outcomes(passed=6, failed=2)
    for module in ("test_one", "test_two"):
        result.stdout.fnmatch_lines([f"*FAILED {module}.py::test_fails*"])
        for n in range(3):
            result.stdout.fnmatch_lines([f"*PASSED {module}.py::test_meets[[]{n}]*"])
        result.stdout.fnmatch_lines([f"FAILED {module}.py::test_fails - AssertionError: {module}"])
    workers: dict[str, set[str]] = {}
    for line in read_log(pytester):
        if line.split()[0] in ("test_one", "test_two"):
            module, _n, worker = line.split()
            workers.setdefault(module, set()).add(worker)
    assert workers.keys() == {"test_one", "test_two"}
    assert all(len(names) == 1 for names in workers.values()), workers


WAITS_FOR_SETUP = """
@pytest.fixture(scope="module")
async def slow_mod():
    note("setup starts")
    send_sigint_soon()
    try:
        await asyncio.sleep(30)
    finally:
        note("setup unwound")
    yield


async def test_sets_up(slow_mod):
    note("test_sets_up ran")


async def test_waits_for_the_setup(slow_mod):
    note("test_waits_for_the_setup ran")
"""


def test_ctrl_c_during_a_shared_setup_reports_neither_test(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """Ctrl-C while one test sets up a module fixture the other waits for: both interrupted.

    As in a sequential run, an interrupted test has no outcome: the test waiting
    for the setup is not reported as an error (nor with awaitest's internals).
    """
    write_suite(pytester, SEND_SIGINT + CONCURRENT, WAITS_FOR_SETUP, conftest=CONFTEST)
    result = run_subprocess("-v", timeout=LIMIT)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert [line for line in result.stdout.lines if "ERROR" in line] == []
    result.stdout.fnmatch_lines(["*! KeyboardInterrupt !*", "*= no tests ran in *"])
    assert read_log(pytester) == ["setup starts", "setup unwound"]
