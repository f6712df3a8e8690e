"""Ctrl-C, KeyboardInterrupt and SystemExit: the run ends, and the report stays true.

Ctrl-C during an async test, an async fixture's setup or its teardown stops the run with
pytest's interrupted exit code, after every fixture already set up is torn down (the
interrupted code unwinds first, on a loop that still runs) and the summary is printed. It is
done both ways a user meets it: a real SIGINT sent by another thread while the loop waits,
and `KeyboardInterrupt` raised by the code itself. `SystemExit` fails the one test, as it does
in a sync test. Inner runs go through a subprocess, bounded in time.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inner import LOG_HELPER, events

Run = Callable[..., pytest.RunResult]

#: Bound on every inner run: an interrupt that is lost must fail the test, not hang the suite.
LIMIT = 60

#: Inner conftest: three scopes of async fixtures logging their setup and teardown, and
#: `stop_here`, the code that gets interrupted (it logs that it unwound).
CONFTEST = """
import asyncio
import os
import signal
import threading
import time

import pytest

from log import log

HOW = {how!r}


def send_sigint_soon():
    def send():
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=send, daemon=True).start()


async def stop_here(where):
    try:
        if HOW == "raise":
            raise KeyboardInterrupt
        send_sigint_soon()
        await asyncio.sleep(30)
    finally:
        await asyncio.sleep(0)  # unwinding code may still await
        log(where + " unwound")


@pytest.fixture(scope="session")
async def sess():
    log("sess up")
    yield
    log("sess down")


@pytest.fixture(scope="module")
async def mod(sess):
    log("mod up")
    yield
    log("mod down")


@pytest.fixture
async def fn(mod):
    log("fn up")
    yield
    log("fn down")


@pytest.fixture
async def interrupted_setup(fn):
    await stop_here("setup")
    yield


@pytest.fixture
async def interrupted_teardown(fn):
    yield
    await stop_here("teardown")
"""

TESTS = {
    "test": """
async def test_interrupted(fn):
    await stop_here("test")
""",
    "setup": """
async def test_interrupted(interrupted_setup):
    pass
""",
    "teardown": """
async def test_interrupted(interrupted_teardown):
    pass
""",
}

TEST_MODULE = """
from conftest import stop_here
from log import log


async def test_before(fn):
    log("test_before")

{interrupted}

async def test_after(fn):
    log("test_after")
"""


@pytest.mark.parametrize("how", ["sigint", "raise"])
@pytest.mark.parametrize("where", ["test", "setup", "teardown"])
def test_ctrl_c_stops_the_run_after_tearing_down_every_fixture(
    pytester: pytest.Pytester, run_subprocess: Run, where: str, how: str
) -> None:
    """Interrupted anywhere, the run unwinds the code, tears down all scopes and reports."""
    pytester.makepyfile(log=LOG_HELPER, conftest=CONFTEST.format(how=how))
    pytester.makepyfile(test_interrupt=TEST_MODULE.format(interrupted=TESTS[where]))
    result = run_subprocess(timeout=LIMIT)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*! KeyboardInterrupt !*"])
    # The summary is printed; the interrupted test has no outcome, as with sync tests.
    result.assert_outcomes(passed=2 if where == "teardown" else 1)
    assert events(pytester) == [
        "sess up",
        "mod up",
        "fn up",
        "test_before",
        "fn down",
        "fn up",
        f"{where} unwound",
        "fn down",
        "mod down",
        "sess down",
    ]
    assert not result.errlines, "\n".join(result.errlines)


def test_ctrl_c_in_a_shared_loop_fixture_teardown_still_closes_the_wider_scopes(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """A SIGINT while a module-scoped fixture tears down still tears down the session's."""
    pytester.makepyfile(log=LOG_HELPER, conftest=CONFTEST.format(how="sigint"))
    pytester.makepyfile(
        test_interrupt="""
        import pytest

        from conftest import stop_here
        from log import log


        @pytest.fixture(scope="module")
        async def module_resource(sess):
            log("module_resource up")
            yield
            await stop_here("module_resource teardown")


        async def test_one(module_resource):
            log("test_one")


        async def test_two(module_resource):
            log("test_two")
        """
    )
    result = run_subprocess(timeout=LIMIT)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(passed=2)
    assert events(pytester) == [
        "sess up",
        "module_resource up",
        "test_one",
        "test_two",
        "module_resource teardown unwound",
        "sess down",
    ]


KEYBOARD_INTERRUPT_IN_A_TASK = """
import asyncio

from log import log


async def test_before():
    pass


async def test_interrupted():
    async def background():
        raise KeyboardInterrupt

    asyncio.create_task(background())
    try:
        await asyncio.sleep(30)
    finally:
        log("test unwound")


async def test_after():
    log("test_after")
"""


def test_keyboard_interrupt_in_a_background_task_stops_the_run_quietly(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """A task raising KeyboardInterrupt interrupts the run like Ctrl-C, with nothing on stderr.

    asyncio re-raises KeyboardInterrupt out of the loop, so it has been reported once; the
    task's copy of it must not come back as "Task exception was never retrieved".
    """
    pytester.makepyfile(log=LOG_HELPER, test_task=KEYBOARD_INTERRUPT_IN_A_TASK)
    result = run_subprocess(timeout=LIMIT)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(passed=1)
    assert events(pytester) == ["test unwound"]
    assert not result.errlines, "\n".join(result.errlines)


SYSTEM_EXIT = """
import asyncio
import gc

import pytest


{prefix}def test_exits():
    {body}


{prefix}def test_next():
    gc.collect()  # whatever the failed test left behind is found now, not at random


{prefix}def test_last():
    pass
"""


@pytest.mark.parametrize(
    "body",
    [
        "raise SystemExit(3)",
        "async def exit():\n        raise SystemExit(3)\n\n    await asyncio.create_task(exit())",
        "async def exit():\n        raise SystemExit(3)\n\n"
        "    asyncio.create_task(exit())\n    await asyncio.sleep(1)",
    ],
    ids=["in-the-test", "in-an-awaited-task", "in-a-background-task"],
)
def test_system_exit_fails_that_test_alone_as_in_a_sync_test(
    pytester: pytest.Pytester, run_subprocess: Run, body: str
) -> None:
    """SystemExit fails the test that raised it; the next tests pass as they would sync."""
    pytester.makepyfile(test_sync=SYSTEM_EXIT.format(prefix="", body="raise SystemExit(3)"))
    sync = run_subprocess("test_sync.py", timeout=LIMIT)
    sync.assert_outcomes(failed=1, passed=2)
    pytester.makepyfile(test_async=SYSTEM_EXIT.format(prefix="async ", body=body))
    result = run_subprocess("test_async.py", "-rA", timeout=LIMIT)
    result.assert_outcomes(failed=1, passed=2)
    result.stdout.fnmatch_lines(["FAILED test_async.py::test_exits - SystemExit: 3"])
    result.stdout.no_fnmatch_line("*test_next*nobody retrieved*")
    assert not result.errlines, "\n".join(result.errlines)
