"""Long runs and strict interpreters: no memory or file descriptors kept per test, no warnings.

Thousands of async tests with function-scoped async fixtures must cost awaitest no memory
that grows with the count (each test's loop is gone when the test is), and leave no file
descriptor open. Runs under `-W error`, Python's development mode and asyncio's debug mode
give the outcomes of a plain run, with nothing on stderr: awaitest itself never emits a
`ResourceWarning`. Inner runs go through a subprocess.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

Run = Callable[..., pytest.RunResult]

LIMIT = 120

#: Inner conftest: at the session's start and end, the open file descriptors; how much the
#: memory in use grew from the end of the FEW-th test to the end of the session (VmRSS: the
#: peak, ru_maxrss, is often reached while plugins import); the event loops still alive.
STATS_CONFTEST = """
import asyncio
import gc
import json
import os
import pathlib
import resource

FDS = {}
RSS = {}
FEW = int(os.environ["FEW"])


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def rss_kb():
    status = pathlib.Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


def pytest_sessionstart(session):
    FDS["start"] = open_fds()


def pytest_runtest_logfinish(nodeid):
    RSS["count"] = RSS.get("count", 0) + 1
    if RSS["count"] == FEW:
        gc.collect()
        RSS["few"] = rss_kb()


def pytest_sessionfinish(session):
    gc.collect()
    loops = [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop)]
    stats = {
        "fds_start": FDS["start"],
        "fds_end": open_fds(),
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "growth_kb": rss_kb() - RSS["few"],
        "live_loops": len(loops),
    }
    pathlib.Path(__file__).with_name("stats.json").write_text(json.dumps(stats))
"""

#: N tests, each with a generator and a coroutine async fixture (sync: the same, sync).
MANY_TESTS = """
import asyncio
import os

import pytest


@pytest.fixture
{a}def resource():
    {pause}
    yield {{"open": True}}
    {pause}


@pytest.fixture
{a}def value(resource):
    {pause}
    return 1


@pytest.mark.parametrize("n", range(int(os.environ["HOW_MANY"])))
{a}def test_many(n, resource, value):
    {pause}
    assert resource["open"] and value == 1
"""

FEW, MANY = 1000, 3000


@pytest.fixture
def measure(
    pytester: pytest.Pytester, run_subprocess: Run, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], dict[str, int]]:
    """Run MANY tests of one flavour in a subprocess; return its stats."""
    pytester.makeconftest(STATS_CONFTEST)
    for flavour, (a, pause) in {
        "async": ("async ", "await asyncio.sleep(0)"),
        "sync": ("", "pass"),
    }.items():
        pytester.makepyfile(**{f"test_{flavour}": MANY_TESTS.format(a=a, pause=pause)})

    monkeypatch.setenv("HOW_MANY", str(MANY))
    monkeypatch.setenv("FEW", str(FEW))

    def measure(flavour: str) -> dict[str, int]:
        result = run_subprocess(f"test_{flavour}.py", "-q", "-p", "no:randomly", timeout=LIMIT)
        result.assert_outcomes(passed=MANY)
        stats: dict[str, int] = json.loads((pytester.path / "stats.json").read_text())
        return stats

    return measure


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux's /proc")
def test_memory_and_descriptors_do_not_grow_with_the_number_of_async_tests(
    measure: Callable[[str], dict[str, int]],
) -> None:
    """From the 1,000th to the 3,000th async test, memory grows no faster than for sync tests.

    pytest itself keeps every test's item and reports, so a sync suite grows too; awaitest
    may add a little per test, not a closed loop's worth (about 5 KB). 3,000 rather than
    10,000 tests keeps this test near 10 s; the growth per test is what is compared.
    """
    stats = {flavour: measure(flavour) for flavour in ("async", "sync")}
    for flavour, seen in stats.items():
        assert seen["fds_end"] <= seen["fds_start"], f"{flavour} tests left fds open: {seen}"
        assert seen["live_loops"] <= 1, f"{flavour} tests kept event loops alive: {seen}"
    async_growth, sync_growth = stats["async"]["growth_kb"], stats["sync"]["growth_kb"]
    slack_kb = 2 * 1024
    assert async_growth <= 1.2 * sync_growth + slack_kb, (
        f"the last {MANY - FEW} async tests kept {async_growth} KB more memory; "
        f"as many sync tests kept {sync_growth} KB"
    )


MIXED = """
import asyncio
import os
import signal
import threading

import pytest


@pytest.fixture(scope="session")
async def server():
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@pytest.fixture(scope="module")
async def port(server):
    yield server


@pytest.fixture
async def connection(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    yield reader
    writer.close()
    await writer.wait_closed()


async def test_reads(connection):
    assert await connection.read() == b""


async def test_fails(connection):
    assert connection is None


async def test_skips(connection):
    pytest.skip("not today")


@pytest.mark.awaitest(timeout=0.3)
async def test_times_out(connection):
    await asyncio.sleep(10)


@pytest.mark.awaitest(virtual_time=True)
async def test_virtual_time():
    await asyncio.sleep(3600)


@pytest.mark.awaitest(loop_scope="module")
async def test_shares_the_module_loop(port):
    await asyncio.sleep(0)


async def test_executor_and_async_generator():
    assert await asyncio.get_running_loop().run_in_executor(None, sum, [1, 2]) == 3

    async def numbers():
        yield 1
        yield 2

    async for number in numbers():
        assert number == 1
        break


def test_sync():
    pass


async def test_last(connection):
    if os.environ.get("INTERRUPT"):
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        await asyncio.sleep(10)
"""


@pytest.mark.parametrize("interrupt", [False, True], ids=["complete", "interrupted"])
def test_strict_interpreter_modes_change_no_outcome_and_print_nothing(
    pytester: pytest.Pytester,
    run_subprocess: Run,
    monkeypatch: pytest.MonkeyPatch,
    interrupt: bool,
) -> None:
    """-W error, PYTHONDEVMODE and PYTHONASYNCIODEBUG: same outcomes, no warning, no stderr."""
    pytester.makepyfile(test_mixed=MIXED)
    if interrupt:
        monkeypatch.setenv("INTERRUPT", "1")
    plain = run_subprocess(timeout=LIMIT)
    monkeypatch.setenv("PYTHONDEVMODE", "1")
    monkeypatch.setenv("PYTHONASYNCIODEBUG", "1")
    monkeypatch.setenv("PYTHONTRACEMALLOC", "5")
    strict = run_subprocess("-W", "error", timeout=LIMIT)
    expected = {"passed": 5, "failed": 2, "skipped": 1}
    if not interrupt:
        expected["passed"] += 1
    plain.assert_outcomes(**expected)
    strict.assert_outcomes(**expected)
    assert strict.ret == plain.ret == (2 if interrupt else 1)
    for result in (plain, strict):
        assert not result.errlines, "\n".join(result.errlines)
        result.stdout.no_fnmatch_line("*ResourceWarning*")
        result.stdout.no_fnmatch_line("*was never awaited*")
