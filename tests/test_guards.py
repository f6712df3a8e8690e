"""The guards: never-awaited coroutines, crashed background work, leaked tasks.

Each test writes a small project with the mistake in it, runs pytest on it
with awaitest, and pins the outcome and the message the user reads: the
test, what happened, where (file:line in the user's code) and the fix.
Open resources, blocking calls and sync-test marker misuse are in
test_guards_resources.py; choosing levels (ini, CLI, marker) in
test_guards_policy.py.
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


def test_never_awaited_coroutine_in_a_fixture_is_a_setup_error(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A coroutine dropped in an async fixture's setup is an error at setup; the test never runs."""
    pytester.makepyfile(
        test_fixture="""
        import pathlib

        import pytest


        async def connect():
            ...


        @pytest.fixture
        async def database():
            connect()
            yield "db"


        async def test_query(database):
            pathlib.Path("log.txt").write_text("test ran")
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_query _*",
            "test_fixture.py::test_query: the coroutine 'connect' was created but never "
            f"awaited (at test_fixture.py:12). {NEVER_AWAITED_FIX}",
        ]
    )
    assert log_lines(pytester) == []


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
            "test_callback.py::test_ticks: background work failed (Exception in callback "
            "on_tick(*)*: ZeroDivisionError: division by zero. Handle the error where it "
            "happens, or let it reach the test.",
            "Traceback (most recent call last):",
            '  File "*test_callback.py", line 5, in on_tick',
            "ZeroDivisionError: division by zero",
        ]
    )


# -- guard 3: tasks left running ------------------------------------------------------------


def test_leaked_task_warns_and_is_cancelled(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """A task left running is reported against the test, then cancelled before the next test."""
    pytester.makepyfile(
        test_heartbeat="""
        import asyncio
        import pathlib


        def note(line):
            with pathlib.Path("log.txt").open("a") as f:
                f.write(line + "\\n")


        async def heartbeat():
            try:
                while True:
                    await asyncio.sleep(1)
            finally:
                note("heartbeat cancelled")


        async def test_connects():
            asyncio.create_task(heartbeat())
            await asyncio.sleep(0)


        def test_next():
            note("next test")
        """
    )
    result = run_subprocess()
    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*= warnings summary =*",
            "test_heartbeat.py::test_connects",
            "*test_heartbeat.py:*: AwaitestWarning: test_heartbeat.py::test_connects: left a task "
            "running when it ended; awaitest cancelled it:",
            "    task 'Task-*' (coroutine heartbeat), created at test_heartbeat.py:19, waiting at:",
            "        test_heartbeat.py:13 in heartbeat",
            "            await asyncio.sleep(1)",
            "*Cancel and await the tasks the test starts (an asyncio.TaskGroup does it for you), "
            "or start long-running tasks in a fixture that cancels them in its teardown.",
        ]
    )
    assert log_lines(pytester) == ["heartbeat cancelled", "next test"]


def test_leaked_library_task_counts_its_frames_in_the_singular(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """A leaked task waiting only in library code says so in plain English ("1 frame")."""
    pytester.makepyfile(
        test_sleeper="""
        import asyncio


        async def test_sleeper():
            asyncio.create_task(asyncio.sleep(10), name="sleeper")
        """
    )
    result = run_subprocess()
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "    task 'sleeper' (coroutine sleep), created at test_sleeper.py:5, waiting at:",
            "        (1 frame, all in libraries)",
        ]
    )


def test_tasks_the_test_does_not_own_are_not_leaks(pytester: pytest.Pytester, run: Run) -> None:
    """Tasks a test does not leave behind are not reported (under strict guards).

    A wider fixture's task, an awaited task, a task a fixture cancels in its
    teardown, and a server's connection handler that ends once the client
    closes in teardown: under strict guards anything found would be an error.
    """
    pytester.makepyfile(
        test_owned="""
        import asyncio

        import pytest


        async def forever():
            await asyncio.Event().wait()


        @pytest.fixture(scope="module")
        async def background():
            task = asyncio.create_task(forever())
            yield task
            task.cancel()


        async def test_module_fixture_task(background):
            await asyncio.sleep(0)


        async def test_awaited_task():
            await asyncio.create_task(asyncio.sleep(0.01))


        @pytest.fixture
        async def worker():
            task = asyncio.create_task(forever())
            yield task
            task.cancel()


        async def test_task_cancelled_in_teardown(worker):
            await asyncio.sleep(0)


        async def echo(reader, writer):
            while data := await reader.read(100):
                writer.write(data)
            writer.close()
            await writer.wait_closed()


        @pytest.fixture(scope="module")
        async def server():
            server = await asyncio.start_server(echo, "127.0.0.1", 0)
            async with server:
                yield server.sockets[0].getsockname()[1]


        @pytest.fixture
        async def connection(server):
            reader, writer = await asyncio.open_connection("127.0.0.1", server)
            yield reader, writer
            writer.close()
            await writer.wait_closed()


        async def test_server_handler_ends_after_teardown(connection):
            reader, writer = connection
            writer.write(b"ping")
            assert await reader.read(4) == b"ping"
        """
    )
    result = run("--awaitest-guards=strict")
    result.assert_outcomes(passed=4, errors=0, warnings=0)


def test_leaked_task_is_found_on_a_loop_shared_with_a_module_fixture(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """On a module fixture's loop, a task the test starts is still the test's leak."""
    pytester.makepyfile(
        test_shared="""
        import asyncio

        import pytest


        @pytest.fixture(scope="module")
        async def loop():
            return asyncio.get_running_loop()


        async def poll():
            while True:
                await asyncio.sleep(1)


        async def test_polls(loop):
            assert asyncio.get_running_loop() is loop
            asyncio.create_task(poll())
            await asyncio.sleep(0)


        async def test_next(loop):
            others = asyncio.all_tasks() - {asyncio.current_task()}
            assert not [t for t in others if not t.done()]
        """
    )
    result = run_subprocess()
    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*AwaitestWarning: test_shared.py::test_polls: left a task running when it ended; "
            "awaitest cancelled it:",
            "    task 'Task-*' (coroutine poll), created at test_shared.py:18, waiting at:",
            "        test_shared.py:13 in poll",
        ]
    )
