"""Failures in async fixtures and tests are reported, and torn down, as sync ones are.

A fixture that raises (SystemExit too) in setup or teardown, or code that calls
`pytest.skip` / `xfail` / `fail` in a test or fixture, gives the outcomes and teardowns the
same suite gives written sync: each suite is run in both flavours and the two reports
compared. Faults only async code can make are in test_reliability_async_faults.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from inner import LOG_HELPER

Run = Callable[..., pytest.RunResult]


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner runs print whole lines in their short test summary."""
    monkeypatch.setenv("COLUMNS", "300")


#: How the two flavours of a suite spell the words that differ.
FLAVOURS = {
    "async": {"ASYNC ": "async ", "AWAIT ": "await ", "PAUSE": "await asyncio.sleep(0)"},
    "sync": {"ASYNC ": "", "AWAIT ": "", "PAUSE": "pass"},
}


def write_flavour(pytester: pytest.Pytester, flavour: str, template: str) -> Path:
    """Write the suite in one flavour into its own directory; return the directory."""
    text = template
    for word, spelling in FLAVOURS[flavour].items():
        text = text.replace(word, spelling)
    directory = pytester.path / flavour
    directory.mkdir()
    (directory / "log.py").write_text(LOG_HELPER)
    (directory / "test_suite.py").write_text(text)
    return directory


def report(result: pytest.RunResult) -> list[str]:
    """The short test summary lines (-rA), which name every test with its outcome."""
    start = result.outlines.index(
        next(line for line in result.outlines if "short test summary info" in line)
    )
    return [line for line in result.outlines[start + 1 :] if not line.startswith("=")]


def assert_same_as_sync(
    pytester: pytest.Pytester, run: Run, monkeypatch: pytest.MonkeyPatch, template: str
) -> list[str]:
    """Run a suite async and sync; both flavours report and tear down alike.

    Returns:
        The async flavour's short test summary lines.
    """
    __tracebackhide__ = True
    results = {}
    for flavour in FLAVOURS:
        monkeypatch.chdir(write_flavour(pytester, flavour, template))
        result = run("-rA", "-p", "no:randomly")
        results[flavour] = (
            result.parseoutcomes(),
            report(result),
            (pytester.path / flavour / "events.log").read_text().splitlines(),
        )
    assert results["async"] == results["sync"]
    return results["async"][1]


FIXTURE_ERRORS = """
import asyncio

import pytest

from log import log


@pytest.fixture
ASYNC def outer():
    log("outer up")
    yield
    PAUSE
    log("outer down")


@pytest.fixture
ASYNC def setup_raises(outer):
    PAUSE
    raise ValueError("setup boom")
    yield


@pytest.fixture
ASYNC def teardown_raises(outer):
    yield
    PAUSE
    raise ValueError("teardown boom")


@pytest.fixture
ASYNC def returns_after_raising(outer):
    PAUSE
    raise LookupError("coroutine fixture boom")


@pytest.fixture
ASYNC def exits_in_setup(outer):
    raise SystemExit(4)
    yield


@pytest.fixture
ASYNC def exits_in_teardown(outer):
    yield
    raise SystemExit(5)


ASYNC def test_setup_raises(setup_raises):
    log("not reached")


ASYNC def test_teardown_raises(teardown_raises):
    log("test_teardown_raises")


ASYNC def test_coroutine_fixture_raises(returns_after_raising):
    log("not reached")


ASYNC def test_exits_in_setup(exits_in_setup):
    log("not reached")


ASYNC def test_exits_in_teardown(exits_in_teardown):
    log("test_exits_in_teardown")


ASYNC def test_last():
    log("test_last")
"""


def test_fixture_errors_and_teardowns_are_those_of_sync_fixtures(
    pytester: pytest.Pytester, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exceptions (SystemExit too) in async fixture setup and teardown, reported as sync."""
    summary = assert_same_as_sync(pytester, run, monkeypatch, FIXTURE_ERRORS)
    assert "ERROR test_suite.py::test_setup_raises - ValueError: setup boom" in summary
    assert "ERROR test_suite.py::test_teardown_raises - ValueError: teardown boom" in summary
    assert "ERROR test_suite.py::test_exits_in_setup - SystemExit: 4" in summary
    assert "PASSED test_suite.py::test_last" in summary


OUTCOMES = """
import asyncio

import pytest

from log import log


ASYNC def skip_deep():
    PAUSE
    pytest.skip("skipped from async code")


@pytest.fixture
ASYNC def tracked():
    log("tracked up")
    yield
    log("tracked down")


@pytest.fixture
ASYNC def skips(tracked):
    PAUSE
    pytest.skip("skipped in a fixture")
    yield


@pytest.fixture
ASYNC def xfails(tracked):
    PAUSE
    pytest.xfail("xfailed in a fixture")
    yield


@pytest.fixture
ASYNC def fails(tracked):
    PAUSE
    pytest.fail("failed in a fixture")
    yield


@pytest.fixture
ASYNC def fails_in_teardown(tracked):
    yield
    PAUSE
    pytest.fail("failed in a teardown")


@pytest.fixture
ASYNC def skips_in_teardown(tracked):
    yield
    PAUSE
    pytest.skip("skipped in a teardown")


ASYNC def test_skip(tracked):
    PAUSE
    pytest.skip("skipped in the test")


ASYNC def test_skip_deep(tracked):
    AWAIT skip_deep()


ASYNC def test_xfail(tracked):
    PAUSE
    pytest.xfail("xfailed in the test")


ASYNC def test_fail(tracked):
    PAUSE
    pytest.fail("failed in the test")


@pytest.mark.xfail(reason="expected", strict=True)
ASYNC def test_marked_xfail(tracked):
    PAUSE
    assert False


ASYNC def test_fixture_skips(skips):
    log("not reached")


ASYNC def test_fixture_xfails(xfails):
    log("not reached")


ASYNC def test_fixture_fails(fails):
    log("not reached")


ASYNC def test_fixture_fails_in_teardown(fails_in_teardown):
    pass


ASYNC def test_fixture_skips_in_teardown(skips_in_teardown):
    pass
"""


def test_skip_xfail_and_fail_from_async_code_are_those_of_sync_code(
    pytester: pytest.Pytester, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest.skip/xfail/fail called in async tests and fixtures give pytest's outcomes."""
    summary = assert_same_as_sync(pytester, run, monkeypatch, OUTCOMES)
    assert "SKIPPED [1] test_suite.py:11: skipped from async code" in summary
    assert "XFAIL at setup of test_suite.py::test_fixture_xfails - xfailed in a fixture" in summary
