"""Faults in async fixtures and tests: each one is reported once, on its test, and cleaned up.

A fixture that raises in setup or teardown, or that calls `pytest.skip` / `xfail` / `fail`,
gives the outcomes and teardowns the same suite gives written sync (each suite is run in both
flavours and the two reports compared). What only async code can do gets its own test: an
async generator that never yields or yields twice, a teardown that hangs past its timeout, a
test that cancels itself, a `BaseException` subclass raised in a task. In every case the
fixtures already set up are torn down and the next test runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from inner import LOG_HELPER, events

Run = Callable[..., pytest.RunResult]

LIMIT = 60


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


def test_skip_inside_a_task_skips_the_test(pytester: pytest.Pytester, run: Run) -> None:
    """pytest.skip raised in a task the test awaits reaches pytest as a skip."""
    pytester.makepyfile(
        """
        import asyncio

        import pytest


        async def check_service():
            await asyncio.sleep(0)
            pytest.skip("service not available")


        async def test_needs_service():
            await asyncio.create_task(check_service())


        async def test_fails_in_a_task_group():
            async def fail():
                pytest.fail("failed in a task")

            await asyncio.gather(fail())
        """
    )
    result = run("-rA")
    result.assert_outcomes(skipped=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED ?1? test_skip_inside_a_task_skips_the_test.py:*: service not available",
            "FAILED *::test_fails_in_a_task_group - Failed: failed in a task",
        ]
    )


ASYNC_ONLY = """
import asyncio

import pytest

from log import log


@pytest.fixture
async def outer():
    log("outer up")
    yield
    log("outer down")


@pytest.fixture
async def never_yields(outer):
    if False:
        yield


@pytest.fixture
async def yields_twice(outer):
    yield 1
    log("between the yields")
    yield 2
    log("after the second yield")


async def test_never_yields(never_yields):
    log("not reached")


async def test_yields_twice(yields_twice):
    log("test_yields_twice")


async def test_last():
    log("test_last")
"""


def test_generator_fixture_yielding_zero_or_two_times_is_that_tests_error(
    pytester: pytest.Pytester, run: Run
) -> None:
    """No yield: a setup error; a second yield: a teardown error. Both name the fixture."""
    pytester.makepyfile(log=LOG_HELPER, test_yields=ASYNC_ONLY)
    result = run("-rA")
    result.assert_outcomes(errors=2, passed=2)
    result.stdout.fnmatch_lines(
        [
            "ERROR test_yields.py::test_never_yields - Failed: fixture 'never_yields' did not "
            "yield a value; an async generator fixture must yield once.",
            "ERROR test_yields.py::test_yields_twice - Failed: fixture 'yields_twice' yielded "
            "more than once; an async generator fixture must yield exactly once.",
        ],
        consecutive=False,
    )
    assert events(pytester) == [
        "outer up",
        "outer down",
        "outer up",
        "test_yields_twice",
        "between the yields",
        "outer down",
        "test_last",
    ]


def test_teardown_hanging_past_the_timeout_is_cancelled_and_the_run_goes_on(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """A hung async teardown is cancelled at the timeout; its finally and outer teardowns run."""
    pytester.makepyfile(log=LOG_HELPER)
    pytester.makepyfile(
        test_hang="""
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
    )
    result = run_subprocess("--awaitest-timeout=0.5", "-rA", timeout=LIMIT)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "test_hang.py::test_uses_it: the teardown of fixture 'hangs' timed out after 0.5 s "
            "(--awaitest-timeout); awaitest cancelled it while it was waiting at:",
        ]
    )
    assert events(pytester) == ["hangs unwound", "test_next", "outer down"]


def test_test_cancelling_itself_fails_with_the_cancellation_and_the_next_passes(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A test that cancels its own task fails at its await; its fixtures still tear down."""
    pytester.makepyfile(log=LOG_HELPER)
    pytester.makepyfile(
        test_cancel="""
        import asyncio

        import pytest

        from log import log


        @pytest.fixture
        async def resource():
            yield
            log("resource down")


        async def test_cancels_itself(resource):
            asyncio.current_task().cancel()
            await asyncio.sleep(0)
            log("not reached")


        async def test_next(resource):
            log("test_next")
        """
    )
    result = run("-rA")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "test_cancel.py:16: *",
            "FAILED test_cancel.py::test_cancels_itself - asyncio.exceptions.CancelledError*",
        ],
        consecutive=False,
    )
    assert events(pytester) == ["resource down", "test_next", "resource down"]


def test_base_exception_subclass_in_a_task_fails_only_that_test(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A BaseException subclass from an awaited or a background task fails its test alone."""
    pytester.makepyfile(
        test_base="""
        import asyncio


        class Abort(BaseException):
            pass


        async def abort():
            raise Abort("stop everything")


        async def test_awaits_it():
            await asyncio.create_task(abort())


        async def test_leaves_it_in_the_background():
            asyncio.create_task(abort())
            await asyncio.sleep(0.01)


        async def test_next():
            await asyncio.sleep(0)
        """
    )
    result = run("-rA")
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(
        [
            "FAILED test_base.py::test_awaits_it - test_base.Abort: stop everything",
            "FAILED test_base.py::test_leaves_it_in_the_background - Failed: "
            "test_base.py::test_leaves_it_in_the_background: task 'Task-*' (coroutine abort)*",
        ],
        consecutive=False,
    )
