"""The guards that fail a test: never-awaited coroutines and crashed background work.

Each test writes a small project with the mistake in it, runs pytest on it
with awaitest, and pins the outcome and the message the user reads: the
test, what happened, where (file:line in the user's code) and the fix.
Leaked tasks are in test_guards_leaks.py; open resources, blocking calls and
sync-test marker misuse in test_guards_resources.py; choosing levels (ini,
CLI, marker) in test_guards_policy.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

Run = Callable[..., pytest.RunResult]

NEVER_AWAITED_FIX = (
    "Add 'await', or wrap it in asyncio.create_task() and keep a reference to the task."
)


def log_lines(pytester: pytest.Pytester) -> list[str]:
    """The lines inner tests appended to log.txt."""
    path = pytester.path / "log.txt"
    return path.read_text().splitlines() if path.exists() else []


# -- guard 1: a coroutine that was never awaited -----------------------------------------


@pytest.mark.parametrize("kind", ["async def", "def"])
def test_never_awaited_coroutine_fails_the_test(
    pytester: pytest.Pytester, run: Run, kind: str
) -> None:
    """A coroutine dropped without await fails the test that made it, async or sync."""
    pytester.makepyfile(
        test_orders=f"""
        class Mailer:
            async def send(self, to):
                ...


        {kind} test_refund():
            Mailer().send("ada@example.com")


        def test_next():
            pass
        """
    )
    result = run()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_refund _*",
            "test_orders.py::test_refund: the coroutine 'Mailer.send' was created but never "
            f"awaited (at test_orders.py:7). {NEVER_AWAITED_FIX}",
            "*= short test summary info =*",
        ]
    )


def test_never_awaited_coroutine_from_an_async_mock(pytester: pytest.Pytester, run: Run) -> None:
    """An AsyncMock called without await gets a message saying the call did nothing."""
    pytester.makepyfile(
        test_mock="""
        from unittest.mock import AsyncMock


        async def test_notifies():
            mailer = AsyncMock(name="mailer")
            mailer.send("ada@example.com")
            mailer.send.assert_called_once()
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_mock.py::test_notifies: the AsyncMock 'mailer.send' was called "
            "(at test_mock.py:6) but the coroutine it returned was never awaited, so the call "
            f"did nothing. {NEVER_AWAITED_FIX}",
        ]
    )


@pytest.mark.parametrize(
    ("phase", "before", "after", "outcomes", "log"),
    [
        ("setup", "connect()", "", {"errors": 1}, []),
        ("teardown", "", "connect()", {"passed": 1, "errors": 1}, ["test ran"]),
    ],
)
def test_never_awaited_coroutine_in_a_fixture_is_an_error_in_its_phase(
    pytester: pytest.Pytester,
    run: Run,
    phase: str,
    before: str,
    after: str,
    outcomes: dict[str, int],
    log: list[str],
) -> None:
    """A coroutine dropped in an async fixture is an error at its setup or teardown."""
    pytester.makepyfile(
        test_fixture=f"""
        import pathlib

        import pytest


        async def connect():
            ...


        @pytest.fixture
        async def database():
            {before}
            yield "db"
            {after}


        async def test_query(database):
            pathlib.Path("log.txt").write_text("test ran")
        """
    )
    result = run()
    result.assert_outcomes(**outcomes)
    line = 12 if phase == "setup" else 14
    result.stdout.fnmatch_lines(
        [
            f"*_ ERROR at {phase} of test_query _*",
            "test_fixture.py::test_query: the coroutine 'connect' was created but never "
            f"awaited (at test_fixture.py:{line}). {NEVER_AWAITED_FIX}",
        ]
    )
    assert log_lines(pytester) == log


def test_never_awaited_coroutine_in_a_reference_cycle_is_found_in_its_test(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A coroutine freed only by the garbage collector is still reported against its test.

    The automatic collector is off while the test runs, so only awaitest's
    collection at the end of the call can free the cycle.
    """
    pytester.makepyfile(
        test_cycle="""
        import gc

        import pytest


        @pytest.fixture
        def no_automatic_gc():
            gc.disable()
            yield
            gc.enable()


        async def save():
            ...


        class Job:
            pass


        async def test_cycle(no_automatic_gc):
            job = Job()
            job.me = job
            job.pending = save()


        def test_next():
            gc.collect()
        """
    )
    result = run()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_cycle _*",
            "test_cycle.py::test_cycle: the coroutine 'save' was created but never awaited "
            f"(at test_cycle.py:24). {NEVER_AWAITED_FIX}",
        ]
    )
    result.stdout.no_fnmatch_line("*RuntimeWarning*")


# -- guard 2: background work that crashed -------------------------------------------------


def test_crashed_task_fails_the_test(pytester: pytest.Pytester, run: Run) -> None:
    """A task whose exception nobody retrieved fails the test: name, creation site, traceback."""
    pytester.makepyfile(
        test_worker="""
        import asyncio


        async def refresh_cache(cache):
            cache["total"] = cache["prices"] * 2


        async def test_refresh():
            asyncio.create_task(refresh_cache({}), name="refresher")
            await asyncio.sleep(0.01)


        async def test_next():
            await asyncio.sleep(0)
        """
    )
    result = run()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_refresh _*",
            "test_worker.py::test_refresh: task 'refresher' (coroutine refresh_cache), created "
            "at test_worker.py:9, failed and nobody retrieved its exception: KeyError: "
            "'prices'. Await the task (or check task.exception() in a done callback), or run "
            "it in an asyncio.TaskGroup so its failure reaches the test.",
            "Traceback (most recent call last):",
            '  File "*test_worker.py", line 5, in refresh_cache',
            "KeyError: 'prices'",
        ]
    )


def test_exception_in_a_callback_fails_the_test(pytester: pytest.Pytester, run: Run) -> None:
    """An exception raised by a loop.call_soon callback fails the test, with its traceback."""
    pytester.makepyfile(
        test_callback="""
        import asyncio


        def on_tick(ticks):
            ticks.append(1 / len(ticks))


        async def test_ticks():
            asyncio.get_running_loop().call_soon(on_tick, [])
            await asyncio.sleep(0.01)
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_callback.py::test_ticks: the callback on_tick() (defined at "
            "test_callback.py:4) failed: ZeroDivisionError: division by zero. Handle the error "
            "where it happens, or let it reach the test.",
            "Traceback (most recent call last):",
            '  File "*test_callback.py", line 5, in on_tick',
            "ZeroDivisionError: division by zero",
        ]
    )


def test_callback_failure_names_the_callback_once_by_its_short_path(
    pytester: pytest.Pytester, run: Run
) -> None:
    """The message names the failing callback once, at a path relative to the project."""
    pytester.makepyfile(
        test_callback="""
        import asyncio


        def on_tick(ticks):
            ticks.append(1 / len(ticks))


        async def test_ticks():
            asyncio.get_running_loop().call_soon(on_tick, [])
            await asyncio.sleep(0.01)
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    [message] = [line for line in result.stdout.lines if line.startswith("test_callback.py::")]
    assert message.count("on_tick") == 1, message
    assert str(pytester.path) not in message, message


def test_a_guard_failure_shows_the_message_alone(pytester: pytest.Pytester, run: Run) -> None:
    """The report is awaitest's message, without pytest's note about hidden traceback entries."""
    pytester.makepyfile(
        test_alone="""
        import pytest


        async def save():
            ...


        @pytest.fixture
        async def saved():
            save()
            yield


        async def test_call():
            save()


        async def test_setup(saved):
            pass
        """
    )
    result = run()
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_setup _*",
            "test_alone.py::test_setup: the coroutine 'save' was created but never awaited*",
            "*_ test_call _*",
            "test_alone.py::test_call: the coroutine 'save' was created but never awaited*",
        ]
    )
    result.stdout.no_fnmatch_line("*All traceback entries are hidden*")
