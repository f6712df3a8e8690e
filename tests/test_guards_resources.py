"""The guards: open resources, a blocked event loop, a marker on a sync test.

Each test writes a small project with the mistake in it, runs pytest on it
with awaitest, and pins the outcome and the message the user reads. Runs
whose result is a warning go through a subprocess, so the outer suite's
`filterwarnings = error` does not turn them into errors.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

Run = Callable[..., pytest.RunResult]

UNCLOSED_FIX = (
    "Close what the test opens (writer.close() and 'await writer.wait_closed()', 'async with' "
    "for clients and servers, 'await agen.aclose()'), in the test or in the teardown of the "
    "fixture that opened it."
)

OPEN_CONNECTION = """
import asyncio

KEEP = []


async def serve(reader, writer):
    KEEP.append(writer)


async def test_connects():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    KEEP.append(writer)
    server.close()
"""

# -- guard 4: resources left open ----------------------------------------------------------


def test_transport_left_open_warns(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """A connection the test leaves open (both ends) is reported against the test."""
    pytester.makepyfile(test_connect=OPEN_CONNECTION)
    result = run_subprocess()
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "test_connect.py::test_connects",
            "*AwaitestWarning: test_connect.py::test_connects: left open when it ended:",
            "    <_SelectorSocketTransport fd=* read=polling write=<idle, bufsize=0>>*",
            "    <_SelectorSocketTransport fd=* read=polling write=<idle, bufsize=0>>*",
            f"  {UNCLOSED_FIX}",
        ]
    )


def test_transport_left_open_in_debug_mode_does_not_ask_for_debug_mode(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """Under --asyncio-debug the report does not tell the user to turn asyncio debug on."""
    pytester.makepyfile(test_connect=OPEN_CONNECTION)
    result = run_subprocess("--asyncio-debug")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        ["*AwaitestWarning: test_connect.py::test_connects: left open when it ended:"]
    )
    result.stdout.no_fnmatch_line("*run with asyncio debug on, --asyncio-debug*")


def test_async_generator_left_suspended_warns(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """An async generator started and never finished is reported with the line it waits at."""
    pytester.makepyfile(
        test_stream="""
        KEEP = []


        async def ticks():
            for n in range(10):
                yield n


        async def test_first_tick():
            stream = ticks()
            assert await stream.__anext__() == 0
            KEEP.append(stream)
        """
    )
    result = run_subprocess()
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*AwaitestWarning: test_stream.py::test_first_tick: left open when it ended:",
            "    async generator 'ticks', suspended at test_stream.py:6",
            f"  {UNCLOSED_FIX}",
        ]
    )


def test_resources_closed_in_teardown_are_not_reported(pytester: pytest.Pytester, run: Run) -> None:
    """A connection and a stream a fixture closes in its teardown are not leaks (strict guards)."""
    pytester.makepyfile(
        test_closed="""
        import asyncio

        import pytest


        async def serve(reader, writer):
            await reader.read()
            writer.close()


        @pytest.fixture
        async def connection():
            server = await asyncio.start_server(serve, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            yield writer
            writer.close()
            await writer.wait_closed()
            server.close()
            await server.wait_closed()


        async def ticks():
            for n in range(10):
                yield n


        @pytest.fixture
        async def stream():
            stream = ticks()
            yield stream
            await stream.aclose()


        async def test_uses_both(connection, stream):
            connection.write(b"hello")
            assert await stream.__anext__() == 0
        """
    )
    result = run("--awaitest-guards=strict")
    result.assert_outcomes(passed=1, errors=0, warnings=0)


# -- guard 5: a blocked event loop ----------------------------------------------------------

SLOW = """
import time


async def build_report():
    time.sleep({seconds})
    return "report"


async def test_report():
    assert await build_report() == "report"
"""


def test_blocking_call_warns_with_its_line(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """time.sleep in an async test is reported with the line that blocked the loop."""
    pytester.makepyfile(test_slow=SLOW.format(seconds=0.3))
    result = run_subprocess()
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "test_slow.py::test_report",
            "*AwaitestWarning: test_slow.py::test_report: blocked the event loop for more than "
            "0.1 s at test_slow.py:5 in build_report",
            "      time.sleep(0.3)",
            "  Nothing else on the loop runs meanwhile (timeouts, I/O, other tasks). Await an "
            "async equivalent (asyncio.sleep, not time.sleep), or run the blocking call with "
            "'await asyncio.to_thread(...)'. The threshold is awaitest_blocking_threshold.",
        ]
    )


@pytest.mark.parametrize(
    ("threshold", "seconds", "warnings"),
    [("0.05", 0.2, 1), ("1", 0.3, 0), (None, 0.01, 0)],
    ids=["over-a-lower-threshold", "under-a-higher-threshold", "under-the-default"],
)
def test_blocking_threshold(
    pytester: pytest.Pytester,
    run_subprocess: Run,
    threshold: str | None,
    seconds: float,
    warnings: int,
) -> None:
    """awaitest_blocking_threshold sets how long the loop may block; shorter is not reported."""
    if threshold is not None:
        pytester.makeini(f"[pytest]\nawaitest_blocking_threshold = {threshold}\n")
    pytester.makepyfile(test_slow=SLOW.format(seconds=seconds))
    result = run_subprocess()
    result.assert_outcomes(passed=1, warnings=warnings)
    if warnings:
        result.stdout.fnmatch_lines(
            [
                f"*AwaitestWarning: test_slow.py::test_report: blocked the event loop for more "
                f"than {threshold} s at test_slow.py:5 in build_report"
            ]
        )
    else:
        result.stdout.no_fnmatch_line("*blocked the event loop*")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "0",
            "awaitest_blocking_threshold: must be more than 0 seconds; to stop watching for "
            "blocking calls set awaitest_guards = blocking=off.",
        ),
        (
            "soon",
            "awaitest_blocking_threshold: 'soon' is not a number of seconds; write e.g. 10 or "
            "0.5 (0: no limit).",
        ),
    ],
)
def test_bad_blocking_threshold_is_a_usage_error(
    pytester: pytest.Pytester, run: Run, value: str, message: str
) -> None:
    """A threshold that is not a positive number stops the run with a message naming the key."""
    pytester.makeini(f"[pytest]\nawaitest_blocking_threshold = {value}\n")
    pytester.makepyfile(test_any="async def test_any(): ...")
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


# -- guard 6: the marker on a sync test -----------------------------------------------------


@pytest.mark.parametrize(
    "marker",
    [
        "@pytest.mark.awaitest",
        "@pytest.mark.awaitest()",
        "@pytest.mark.awaitest(loop_scope='module')",
    ],
)
def test_awaitest_marker_on_a_sync_test_is_a_setup_error(
    pytester: pytest.Pytester, run: Run, marker: str
) -> None:
    """The marker (bare, or asking for a loop) on a sync test is an error: nothing would run."""
    pytester.makepyfile(
        test_sync=f"""
        import pytest


        {marker}
        def test_sync():
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_sync _*",
            "test_sync.py::test_sync: is marked @pytest.mark.awaitest but is a sync function, "
            "so there is nothing for awaitest to run. Make the test 'async def', or remove the "
            "marker.",
        ]
    )


def test_awaitest_timeout_or_guards_on_a_sync_test_are_fine(
    pytester: pytest.Pytester, run: Run
) -> None:
    """timeout= and guards= mean something for a sync test too: no error."""
    pytester.makepyfile(
        test_sync="""
        import pytest


        @pytest.mark.awaitest(timeout=5)
        def test_timed():
            pass


        @pytest.mark.awaitest(guards="strict")
        def test_guarded():
            pass
        """
    )
    result = run()
    result.assert_outcomes(passed=2, errors=0)
