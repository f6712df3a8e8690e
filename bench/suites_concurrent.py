"""Issue 8's suites: tests that spend their time waiting, run one by one and concurrently.

awaitest runs each case twice: sequentially (its row "awaitest", the baseline of the case's
ratios) and with `pytestmark = pytest.mark.awaitest(concurrent=True)` in every module (row
"awaitest concurrent", held to the case's target). pytest-asyncio-cooperative runs the same
tests marked `@pytest.mark.asyncio_cooperative`, on each test because it reads only a test's
own markers. Both run at most 100 tests at once, their default. The other contenders do not
apply: they run tests one by one, like the baseline. An awaitest without concurrent tests
shows "n/a" in the concurrent row. Nothing here runs or times anything.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.contenders import Contender
from bench.suites import Case, Plan, generate, scaled, suite, target

SEQUENTIAL = "awaitest"
CONCURRENT = "awaitest concurrent"
COOPERATIVE = "pytest-asyncio-cooperative"

#: Seconds each test of the fixture suite waits: fixture setup, test, fixture teardown.
SETUP_WAIT, TEST_WAIT, TEARDOWN_WAIT = 0.05, 0.1, 0.05
#: Seconds the loopback server waits before it answers a request.
SERVER_DELAY = 0.1

_CONCURRENT_MARK = "pytestmark = pytest.mark.awaitest(concurrent=True)\n"
_COOPERATIVE_MARK = "@pytest.mark.asyncio_cooperative\n"


def _runs(
    header: str, test: str, conftest: str, n: int, extra: dict[str, str]
) -> Callable[[Contender], Plan | tuple[Plan, ...] | None]:
    """Return a case's plan: awaitest sequential and concurrent, and cooperative's run.

    Args:
        header: Imports at the top of every test module.
        test: Source of one test (`{i}` is its number), without a marker.
        conftest: Source of conftest.py, the same for every run.
        n: Number of tests.
        extra: Other files of the suite (the server), the same for every run.
    """
    common = {"header": header, "conftest": conftest}
    concurrent_common = {"header": header + "\n" + _CONCURRENT_MARK, "conftest": conftest}

    def plan(contender: Contender) -> Plan | tuple[Plan, ...] | None:
        if contender.special == "cooperative":
            files = generate(n, "cooperative", _COOPERATIVE_MARK + test, **common)
            return Plan(files | extra, expected=n, note="@pytest.mark.asyncio_cooperative")
        if contender.flavour != "awaitest" or contender.special:
            return None
        sequential = generate(n, "awaitest", test, **common)
        concurrent = generate(n, "awaitest", test, **concurrent_common)
        return (
            Plan(sequential | extra, expected=n, note="sequential (the baseline)"),
            Plan(
                concurrent | extra,
                expected=n,
                note="concurrent=True",
                unsupported_if_fails=True,
                row=CONCURRENT,
            ),
        )

    return plan


_SLEEP_CONFTEST = f"""\
import asyncio

import pytest


@pytest.fixture
async def resource():
    await asyncio.sleep({SETUP_WAIT})
    yield {{"value": 42}}
    await asyncio.sleep({TEARDOWN_WAIT})
"""
_SLEEP_TEST = f"""\
async def test_{{i}}(resource):
    await asyncio.sleep({TEST_WAIT})
    assert resource["value"] == 42
"""


@suite("concurrent-sleep")
def concurrent_sleep(divisor: int) -> list[Case]:
    n = scaled(100, divisor)
    wait = SETUP_WAIT + TEST_WAIT + TEARDOWN_WAIT
    plan = _runs("import asyncio\n\nimport pytest\n", _SLEEP_TEST, _SLEEP_CONFTEST, n, {})
    title = f"{n:,} tests, async fixture, {wait:g} s of asyncio.sleep each"
    return [
        Case(
            "concurrent-sleep",
            title,
            n,
            "concurrency",
            plan,
            target(0.1, divisor),
            baseline=SEQUENTIAL,
            subject=CONCURRENT,
            peer=COOPERATIVE,
        )
    ]


#: The loopback server: answers each line, upper-cased, SERVER_DELAY seconds after reading it.
#: It prints its port, and stops when its standard input closes (its parent closed it or died).
_SERVER = f"""\
import asyncio
import sys


async def answer(reader, writer):
    line = await reader.readline()
    await asyncio.sleep({SERVER_DELAY})
    writer.write(line.upper())
    try:
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    except ConnectionError:
        pass


async def main():
    server = await asyncio.start_server(answer, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.close()


asyncio.run(main())
"""
#: A sync session fixture, so every contender starts the server the same way.
_IO_CONFTEST = """\
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def server_port():
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("loopback_server.py"))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(server.stdout.readline())
    yield port
    server.stdin.close()
    server.wait(timeout=10)
    server.stdout.close()
"""
_IO_TEST = """\
async def test_{i}(server_port):
    reader, writer = await asyncio.open_connection("127.0.0.1", server_port)
    writer.write(b"request {i}\\n")
    await writer.drain()
    assert await reader.readline() == b"REQUEST {i}\\n"
    writer.close()
    await writer.wait_closed()
"""


@suite("concurrent-io")
def concurrent_io(divisor: int) -> list[Case]:
    n = scaled(100, divisor)
    extra = {"loopback_server.py": _SERVER}
    plan = _runs("import asyncio\n\nimport pytest\n", _IO_TEST, _IO_CONFTEST, n, extra)
    title = f"{n:,} tests, a loopback TCP request answered after {SERVER_DELAY * 1000:g} ms each"
    return [
        Case(
            "concurrent-io",
            title,
            n,
            "concurrency",
            plan,
            target(0.05, divisor),
            baseline=SEQUENTIAL,
            subject=CONCURRENT,
            peer=COOPERATIVE,
            peer_target=target(1.0, divisor),
        )
    ]
