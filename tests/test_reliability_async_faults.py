"""Faults only async code can make: each is its test's failure, and the run goes on.

An async generator fixture that never yields or yields twice, a teardown that hangs past its
timeout, a test that cancels itself, a `BaseException` subclass or `pytest.skip` raised in a
task. In every case the fixtures already set up are torn down and the next test runs. (Faults
sync code can make too are compared with sync code in test_reliability_fixtures.py.)
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inner import HANGING_TEARDOWN, LOG_HELPER, events

Run = Callable[..., pytest.RunResult]

LIMIT = 60


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner runs print whole lines in their short test summary."""
    monkeypatch.setenv("COLUMNS", "300")


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
    pytester.makepyfile(log=LOG_HELPER, test_hang=HANGING_TEARDOWN)
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
