"""pytest's own options work on async tests as on sync ones; xdist survives a crashed worker.

One suite (async fixtures of two scopes, passing and failing tests, a parametrized test and
a class) is written twice, async and sync; each option (or sequence of runs, for the options
that read the cache) must print the same report for both, once timings and the header are
set aside. `-p no:awaitest` leaves pytest without awaitest, as if it were not installed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from inner import LOG_HELPER, events

Run = Callable[..., pytest.RunResult]

LIMIT = 60

#: awaitest on, other async plugins off; unlike the `run` fixture, the cache stays on
#: (--lf and --sw need it).
WITH_CACHE = ("-p", "awaitest", "-p", "no:asyncio", "-p", "no:hypothesispytest")

FLAVOURS = {
    "async": {"ASYNC ": "async ", "PAUSE": "await asyncio.sleep(0)"},
    "sync": {"ASYNC ": "", "PAUSE": "pass"},
}

SUITE = """
import asyncio

import pytest


@pytest.fixture(scope="module")
ASYNC def db():
    \"\"\"The database, one per module.\"\"\"
    PAUSE
    yield {"rows": 1}
    PAUSE


@pytest.fixture
ASYNC def conn(db):
    \"\"\"A connection to the database.\"\"\"
    PAUSE
    return db


ASYNC def test_one(conn):
    PAUSE
    assert conn["rows"] == 1


ASYNC def test_two(conn):
    PAUSE
    assert conn["rows"] == 2


@pytest.mark.parametrize("n", [1, 2, 3])
ASYNC def test_three(db, n):
    PAUSE
    assert n != 2


class TestGroup:
    ASYNC def test_four(self, conn):
        PAUSE

    ASYNC def test_five(self, conn):
        PAUSE
        assert not conn


ASYNC def test_six(db):
    PAUSE
"""

#: Lines that differ between any two runs: the header and timings.
_HEADER = re.compile(r"^(platform |rootdir: |plugins: |awaitest |cachedir: |configfile: )")
_TIMING = re.compile(r" in \d+\.\d+s")

#: Each case: the runs made in order, each a list of arguments. All are compared.
CASES: dict[str, list[list[str]]] = {
    "exitfirst": [["-x"]],
    "maxfail": [["--maxfail=2"]],
    "last-failed": [[], ["--lf"], ["--lf", "-k", "not test_two"], ["--lf"]],
    "stepwise": [["--sw"], ["--sw"], ["--sw", "--sw-skip"], ["--sw"]],
    "collect-only": [["--collect-only", "-q"], ["--collect-only"]],
    "setup-show": [["--setup-show"], ["--setup-plan"]],
    "fixtures": [["--fixtures"], ["--fixtures-per-test", "-v"]],
}


def normalized(result: pytest.RunResult) -> list[str]:
    """The report's lines, without the header and timings."""
    return [_TIMING.sub("", line) for line in result.outlines if not _HEADER.match(line)]


def run_flavour(
    pytester: pytest.Pytester, flavour: str, runs: Sequence[Sequence[str]]
) -> list[list[str]]:
    """Write the suite in one flavour into its own directory and make the runs there."""
    directory: Path = pytester.path / flavour / "project"  # one <Dir project> for both
    directory.mkdir(parents=True)
    text = SUITE
    for word, spelling in FLAVOURS[flavour].items():
        text = text.replace(word, spelling)
    (directory / "test_suite.py").write_text(text)
    reports = []
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(directory)
        for args in runs:
            result = pytester.runpytest(*WITH_CACHE, "--tb=short", "-rA", *args)
            reports.append(normalized(result))
    return reports


@pytest.mark.parametrize("case", sorted(CASES))
def test_option_reports_async_tests_as_it_reports_sync_tests(
    pytester: pytest.Pytester, case: str
) -> None:
    """-x, --maxfail, --lf, --sw, --collect-only, --setup-show, --fixtures: same report."""
    runs = CASES[case]
    async_reports = run_flavour(pytester, "async", runs)
    sync_reports = run_flavour(pytester, "sync", runs)
    for args, got, expected in zip(runs, async_reports, sync_reports, strict=True):
        assert got == expected, f"pytest {' '.join(args)}: the async suite's report differs"
    assert any(len(report) > 5 for report in async_reports)  # something was compared


def test_no_awaitest_leaves_pytest_without_it(pytester: pytest.Pytester) -> None:
    """-p no:awaitest: no header line, no fixtures run, pytest's own message for async tests."""
    pytester.makeconftest(
        """
        import awaitest


        @awaitest.fixture
        async def resource():
            yield 1
        """
    )
    pytester.makepyfile(
        test_plain="""
        async def test_async():
            pass


        async def test_uses_an_async_fixture(resource):
            pass


        def test_sync():
            pass
        """
    )
    result = pytester.runpytest(
        "-p", "no:awaitest", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-rA"
    )
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*requested an async fixture 'resource', with no plugin or hook that handled it*",
            "*async def functions are not natively supported*",
        ],
        consecutive=False,
    )
    result.stdout.no_fnmatch_line("awaitest *")
    result.stdout.no_fnmatch_line("plugins:*awaitest*")


CRASH_CONFTEST = """
import os

import pytest

from log import log


@pytest.fixture(scope="session")
async def worker_resource():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    log("up " + worker)
    yield
    log("down " + worker)
"""

CRASH_TESTS = """
import asyncio
import os

import pytest


@pytest.mark.parametrize("n", range(8))
async def test_before(worker_resource, n):
    await asyncio.sleep(0.01)
    assert n != 3


async def test_crashes(worker_resource):
    await asyncio.sleep(0.01)
    os._exit(1)


@pytest.mark.parametrize("n", range(8))
async def test_after(worker_resource, n):
    await asyncio.sleep(0.01)
    assert n != 5
"""


def test_xdist_worker_crashing_mid_test_leaves_the_other_results_intact(
    pytester: pytest.Pytester, run_subprocess: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os._exit in a test: that test is reported crashed; every other one has its outcome."""
    pytester.makepyfile(log=LOG_HELPER, conftest=CRASH_CONFTEST, test_crash=CRASH_TESTS)
    monkeypatch.setenv("COLUMNS", "300")  # whole lines in the short test summary
    result = run_subprocess("-n", "2", "-rA", timeout=LIMIT)
    result.assert_outcomes(passed=14, failed=3)
    expected = [
        "FAILED test_crash.py::test_before[[]3[]] - assert 3 != 3",
        "FAILED test_crash.py::test_crashes - worker 'gw?' crashed while running "
        "'test_crash.py::test_crashes'",
        "FAILED test_crash.py::test_after[[]5[]] - assert 5 != 5",
    ]
    expected += [f"PASSED test_crash.py::test_before[[]{n}[]]" for n in range(8) if n != 3]
    expected += [f"PASSED test_crash.py::test_after[[]{n}[]]" for n in range(8) if n != 5]
    for line in expected:  # in the order the workers finished them
        result.stdout.fnmatch_lines([line])
    # Every worker that did not crash tore its session fixture down.
    lines = events(pytester)
    up = {line.split()[1] for line in lines if line.startswith("up ")}
    down = {line.split()[1] for line in lines if line.startswith("down ")}
    assert len(up - down) == 1, lines
