"""The leaked-tasks guard: tasks a test leaves running are reported, then cancelled.

A task still pending once the test's fixtures are torn down is the test's
leak: an AwaitestWarning names the test, the task, its coroutine, where it
was created and the line it waits at. Tasks the test does not own (a wider
fixture's, one cancelled in a teardown, a server handler ending after its
client closed) are not reported.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

Run = Callable[..., pytest.RunResult]


def log_lines(pytester: pytest.Pytester) -> list[str]:
    """The lines inner tests appended to log.txt."""
    path = pytester.path / "log.txt"
    return path.read_text().splitlines() if path.exists() else []


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


def test_leaked_library_task_shows_the_library_line_it_waits_at(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """A leaked task waiting only in library code shows the innermost library line."""
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
            "        */asyncio/tasks.py:* in sleep",
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
