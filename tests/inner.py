"""Helpers for inner test runs: modules the inner tests import to record facts.

An outer test writes one of these modules into the pytester directory
(`pytester.makepyfile(rec=REC)`), the inner tests import it and record lines,
and the outer test reads them back to check what really happened: which loop
each test ran on, in which order fixtures set up and tore down. The last part
holds what the concurrency tests (test_concurrent*.py) share: `meet`, the module
that proves tests overlapped, and `write_suite`, which writes an inner suite.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

#: Module `rec`: `note(*words)` appends a line to log.txt; `loop_id()`, `ident(obj)`,
#: `remember(name)` and `count(name)` give stable identities for what was seen.
REC = """
import asyncio
import pathlib

LOG = pathlib.Path(__file__).with_name("log.txt")
KEEP = []  # keeps recorded objects alive, so their ids stay unique
LOOPS = {}
COUNTS = {}


def note(*words):
    with LOG.open("a") as f:
        f.write(" ".join(map(str, words)) + "\\n")


def ident(obj):
    KEEP.append(obj)
    return id(obj)


def loop_id(loop=None):
    return ident(loop or asyncio.get_running_loop())


def remember(name, loop=None):
    LOOPS[name] = loop or asyncio.get_running_loop()
    return loop_id(LOOPS[name])


def count(name):
    COUNTS[name] = COUNTS.get(name, 0) + 1
    return COUNTS[name]
"""

#: Module with `log(line)`, appending a line to events.log.
LOG_HELPER = """
import pathlib

def log(line):
    with pathlib.Path(__file__).with_name("events.log").open("a") as f:
        f.write(line + "\\n")
"""


#: Module test_hang (with `LOG_HELPER` as `log`): the teardown of fixture `hangs` waits forever;
#: a timeout must cancel it (its finally logs "hangs unwound") and the run go on to test_next.
HANGING_TEARDOWN = """
import asyncio

import pytest

from log import log


@pytest.fixture(scope="module")
async def outer():
    yield
    log("outer down")


@pytest.fixture
async def hangs(outer):
    yield
    try:
        await asyncio.Event().wait()
    finally:
        log("hangs unwound")


async def test_uses_it(hangs):
    pass


async def test_next(outer):
    log("test_next")
"""


def read_log(pytester: pytest.Pytester) -> list[str]:
    """Return the lines inner tests wrote with `rec.note`."""
    log = pytester.path / "log.txt"
    return log.read_text().splitlines() if log.exists() else []


def events(pytester: pytest.Pytester) -> list[str]:
    """Return the lines inner tests wrote with `log`."""
    path = pytester.path / "events.log"
    return path.read_text().splitlines() if path.exists() else []


def loops_by_name(pytester: pytest.Pytester) -> dict[str, str]:
    """Map each name logged with `rec.note(name, value)` to its value (e.g. a loop id)."""
    return {line.split()[0]: line.split()[1] for line in read_log(pytester)}


def partition(loops: dict[str, str]) -> set[frozenset[str]]:
    """Group names by the loop they ran on."""
    groups: dict[str, set[str]] = {}
    for name, loop in loops.items():
        groups.setdefault(loop, set()).add(name)
    return {frozenset(group) for group in groups.values()}


def groups(*names: str) -> set[frozenset[str]]:
    """Spell an expected partition: each argument is one group of space-separated names."""
    return {frozenset(group.split()) for group in names}


def pip_install(target: Path, *requirements: str) -> Path:
    """Install `requirements` into the directory `target` (for an inner run's PYTHONPATH).

    Other plugins are installed beside the suite, not into its environment, so they
    reach only the inner runs that ask for them.
    """
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--target", str(target), *requirements],
        check=True,
        timeout=600,
    )  # fmt: skip
    return target


# -- concurrent tests (test_concurrent*.py) ----------------------------------------------

#: Module `meet`: `Meeting(n)` lets its callers through once `n` of them wait in it, so the
#: tests that pass through it overlapped. A test that waits `timeout` seconds in vain fails
#: with "only <k> of <n> tests met". `Peak` counts how many tests run at the same moment.
MEET = """
import asyncio


class Meeting:
    def __init__(self, n, timeout=5.0):
        self.n = n
        self.timeout = timeout
        self.arrived = 0
        self.event = asyncio.Event()

    async def __call__(self):
        self.arrived += 1
        if self.arrived >= self.n:
            self.event.set()
        try:
            await asyncio.wait_for(self.event.wait(), self.timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"only {self.arrived} of {self.n} tests met") from None


class Peak:
    def __init__(self):
        self.now = 0
        self.most = 0

    def enter(self):
        self.now += 1
        self.most = max(self.most, self.now)

    def leave(self):
        self.now -= 1
"""

#: The start of every module `suite` makes.
SUITE_IMPORTS = """import asyncio

import pytest

from meet import Meeting, Peak
from rec import note
"""

#: Opts the whole inner module in.
CONCURRENT = "pytestmark = pytest.mark.awaitest(concurrent=True)\n"

#: `finished(name)` is an event set when the test `name` ends: later tests set it, so
#: earlier ones finish last.
CHAIN = """
ENDED = {}


def finished(name):
    return ENDED.setdefault(name, asyncio.Event())
"""

#: Tests a and b meet in `first`, c and d in `second` (each a `Meeting(2)` the header makes),
#: each noting its start and end: each pair passes only if it overlaps. Between the pairs
#: stands `{alone}`, the source of a test that must run alone; `{self}` is "self" for methods.
TWO_PAIRS = """
async def test_a({self}):
    note("start a")
    await first()
    note("end a")


async def test_b({self}):
    note("start b")
    await first()
    note("end b")


{alone}


async def test_c({self}):
    note("start c")
    await second()
    note("end c")


async def test_d({self}):
    note("start d")
    await second()
    note("end d")
"""

#: A `-v` result line: nodeid, outcome (and reason), percentage.
VERBOSE = re.compile(r"(test_suite\.py::\S+ (?:PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS).*?)\s+\[")


def verbose_lines(result: pytest.RunResult) -> list[str]:
    """The `-v` result lines (nodeid and outcome), as printed, without the percentages."""
    return [m.group(1) for line in result.stdout.lines if (m := VERBOSE.match(line))]


def assert_alone(log: list[str], name: str) -> None:
    """Assert the test `name` started and ended with nothing else noted in between."""
    start = log.index(f"start {name}")
    assert log[start + 1] == f"end {name}", log


def suite(header: str, body: str) -> str:
    """The source of an inner test module: `SUITE_IMPORTS`, `header`, then `body`."""
    return SUITE_IMPORTS + header + "\n" + body


def write_suite(pytester: pytest.Pytester, header: str, body: str, **files: str) -> None:
    """Write `rec`, `meet`, `files` and test_suite.py: `suite(header, body)`."""
    pytester.makepyfile(rec=REC, meet=MEET, **files)
    pytester.makepyfile(test_suite=suite(header, body))
