"""A new loop for every test, even though its selector and self-pipe may be a closed loop's.

awaitest's default factory builds each test's loop around the selector and
self-pipe socket pair of the loop closed before it (`_loops.new_asyncio_loop`,
`_loops.close_loop`). Everything a test can see must still be new: the loop
object, its exception handler, task factory and settings, its callbacks,
readers, writers and signal handlers; objects bound to an earlier test's
loop must fail as they would on a brand-new one; and nothing may pile up
over thousands of tests. The inner runs check what the user sees; the last
tests check the recycling itself, directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from awaitest import _loops

Run = Callable[..., pytest.RunResult]

unix_only = pytest.mark.skipif(sys.platform == "win32", reason="selector loops are Unix's default")


#: Loop objects are never reused: five tests, five loops, each closed after its test.
NEW_LOOP_OBJECTS = """
import asyncio
import pytest

SEEN = []

@pytest.mark.parametrize("n", range(5))
async def test_loop(n):
    loop = asyncio.get_running_loop()
    assert all(loop is not old for old in SEEN)
    assert all(old.is_closed() for old in SEEN)
    fresh = asyncio.new_event_loop()
    try:
        assert type(loop) is type(fresh)
    finally:
        fresh.close()
    SEEN.append(loop)
"""

#: Exception handler, task factory, debug mode and slow-callback limit start afresh.
SETTINGS = """
import asyncio

MINE = {}

def handler(loop, context):
    pass

def factory(loop, coro, **kwargs):
    return asyncio.Task(coro, loop=loop, **kwargs)

async def test_changes_everything():
    loop = asyncio.get_running_loop()
    MINE["handler"] = loop.get_exception_handler()  # awaitest's, for every loop
    loop.set_exception_handler(handler)
    loop.set_task_factory(factory)
    loop.set_debug(not loop.get_debug())
    loop.slow_callback_duration = 42.0

async def test_sees_none_of_it():
    loop = asyncio.get_running_loop()
    fresh = asyncio.new_event_loop()
    try:
        assert loop.get_exception_handler() is MINE["handler"]
        assert loop.get_task_factory() is None
        assert loop.get_debug() == fresh.get_debug()
        assert loop.slow_callback_duration == fresh.slow_callback_duration
    finally:
        fresh.close()
"""

#: call_soon/call_later/call_at left behind, and threads calling the old loop, stay out.
CALLBACKS = """
import asyncio
import threading

RAN = []
OLD = []

async def test_leaves_callbacks():
    loop = asyncio.get_running_loop()
    OLD.append(loop)
    loop.call_later(0.02, RAN.append, "later")
    loop.call_at(loop.time() + 0.03, RAN.append, "at")

async def test_later_test_runs_none_of_them():
    before = list(RAN)
    await asyncio.sleep(0.1)
    assert RAN == before

async def test_a_thread_calling_the_old_loop_is_refused():
    errors = []

    def call_old_loop():
        try:
            OLD[0].call_soon_threadsafe(RAN.append, "threadsafe")
        except RuntimeError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=call_old_loop)
    thread.start()
    thread.join()
    await asyncio.sleep(0.02)
    assert errors == ["Event loop is closed"]
    assert "threadsafe" not in RAN
"""

#: A reader never removed stays with its closed loop; the next loop's I/O still works.
READERS = """
import asyncio
import socket

FIRED = []
SOCKETS = []

async def test_leaves_a_reader():
    a, b = socket.socketpair()
    SOCKETS.extend([a, b])
    asyncio.get_running_loop().add_reader(a, FIRED.append, "left behind")

async def test_data_for_it_reaches_nobody():
    SOCKETS[1].send(b"x")
    await asyncio.sleep(0.05)
    assert FIRED == []

async def test_the_next_loop_reads_its_own_sockets():
    a, b = socket.socketpair()
    loop = asyncio.get_running_loop()
    got = loop.create_future()
    loop.add_reader(a, lambda: got.done() or got.set_result(a.recv(1)))
    b.send(b"y")
    try:
        assert await asyncio.wait_for(got, 1) == b"y"
    finally:
        loop.remove_reader(a)
        a.close()
        b.close()
    assert FIRED == []

def test_close_sockets():
    for sock in SOCKETS:
        sock.close()
"""

#: The runner gives closed default loops back to their factory, which hands the parts on.
SELF_PIPE_TAKEN_OVER = """
import asyncio
PIPES = []
async def test_first():
    PIPES.append(asyncio.get_running_loop()._ssock)
async def test_second():
    assert asyncio.get_running_loop()._ssock is PIPES[0]
"""


@pytest.mark.parametrize(
    ("suite", "passed"),
    [
        (NEW_LOOP_OBJECTS, 5),
        (SETTINGS, 2),
        (CALLBACKS, 3),
        (READERS, 4),
        (SELF_PIPE_TAKEN_OVER, 2),
    ],
    ids=["loop-objects", "settings", "callbacks", "readers", "self-pipe-taken-over"],
)
def test_a_later_tests_loop_is_new_on_the_parts_of_an_earlier_one(
    pytester: pytest.Pytester, run: Run, suite: str, passed: int
) -> None:
    """In each inner suite, later tests check what they see of the earlier tests' loops.

    The suites' comments above say what each checks; all their tests must pass.
    """
    pytester.makepyfile(test_suite=suite)
    run().assert_outcomes(passed=passed)


def test_objects_bound_to_an_earlier_tests_loop_fail_in_a_later_test(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A module-level queue or future used by one test is "another loop's" in the next."""
    pytester.makepyfile(
        test_bound="""
        import asyncio

        QUEUE = asyncio.Queue()
        FUTURES = []

        async def test_first_binds_them():
            try:
                await asyncio.wait_for(QUEUE.get(), 0.01)  # waits: the queue binds to this loop
            except asyncio.TimeoutError:
                pass
            FUTURES.append(asyncio.get_running_loop().create_future())

        async def test_queue_in_a_later_test():
            await asyncio.wait_for(QUEUE.get(), 0.01)

        async def test_future_in_a_later_test():
            await FUTURES[0]
        """
    )
    result = run()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*is bound to a different event loop*"])
    result.stdout.fnmatch_lines(["*attached to a different loop*"])


@unix_only
def test_signal_handlers_of_a_test_go_with_its_loop(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """A handler left by one test neither runs later nor leaves the wakeup fd behind."""
    pytester.makepyfile(
        test_signals="""
        import asyncio
        import os
        import signal

        RAN = []

        async def test_leaves_a_handler():
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, RAN.append, "first")

        async def test_own_handler_only():
            assert signal.set_wakeup_fd(-1) == -1  # none left pointing at a recycled socket
            loop = asyncio.get_running_loop()
            got = loop.create_future()
            loop.add_signal_handler(signal.SIGUSR1, got.set_result, "second")
            os.kill(os.getpid(), signal.SIGUSR1)
            assert await asyncio.wait_for(got, 1) == "second"
            assert RAN == []

        def test_nothing_left_after():
            assert signal.set_wakeup_fd(-1) == -1
            assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
        """
    )
    run_subprocess().assert_outcomes(passed=3)


#: Inner conftest: open file descriptors at the session's start and end, and at two
#: tests far apart (same state of awaitest's kept parts at both); loops still alive.
FD_CONFTEST = """
import asyncio
import gc
import json
import os
import pathlib

FDS = {}


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def pytest_sessionstart(session):
    FDS["start"] = open_fds()


def pytest_runtest_logfinish(nodeid):
    FDS["count"] = FDS.get("count", 0) + 1
    if FDS["count"] in (300, 2997):
        FDS[str(FDS["count"])] = open_fds()


def pytest_sessionfinish(session):
    gc.collect()
    FDS["end"] = open_fds()
    FDS["live_loops"] = sum(isinstance(o, asyncio.AbstractEventLoop) for o in gc.get_objects())
    pathlib.Path(__file__).with_name("fds.json").write_text(json.dumps(FDS))
"""

#: 3,000 tests taking turns: plain, with a socket read on the loop, with a signal handler.
FD_TESTS = """
import asyncio
import signal
import socket

import pytest


@pytest.mark.parametrize("n", range(3000))
async def test_many(n):
    loop = asyncio.get_running_loop()
    if n % 3 == 1:
        a, b = socket.socketpair()
        with a, b:
            reader, writer = await asyncio.open_connection(sock=a)
            b.send(b"ping")
            assert await reader.read(4) == b"ping"
            writer.close()
            await writer.wait_closed()
    elif n % 3 == 2 and n % 100 == 2:
        loop.add_signal_handler(signal.SIGUSR2, print)
    else:
        await asyncio.sleep(0)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux's /proc")
def test_descriptors_do_not_pile_up_over_3000_tests(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """Kept selectors and self-pipes are bounded and closed at the end; loops are freed."""
    pytester.makeconftest(FD_CONFTEST)
    pytester.makepyfile(test_fds=FD_TESTS)
    run_subprocess("-q", "-p", "no:randomly", timeout=120).assert_outcomes(passed=3000)
    fds = json.loads((pytester.path / "fds.json").read_text())
    assert fds["300"] == fds["2997"], fds
    assert fds["end"] <= fds["start"], fds
    assert fds["live_loops"] <= 1, fds


def test_custom_factories_and_policies_get_plain_loops(pytester: pytest.Pytester, run: Run) -> None:
    """A project's factory or event loop policy makes and closes its loops as before."""
    pytester.makeconftest(
        """
        import asyncio
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # policies: 3.14

            class Policy(asyncio.DefaultEventLoopPolicy):
                def new_event_loop(self):
                    loop = super().new_event_loop()
                    loop.made_by = "policy"
                    return loop

        CLOSED = []

        class CountedLoop(asyncio.SelectorEventLoop):
            def close(self):
                CLOSED.append(self)
                super().close()

        def pytest_configure(config):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                asyncio.set_event_loop_policy(Policy())

        def pytest_unconfigure(config):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                asyncio.set_event_loop_policy(None)
        """
    )
    pytester.makepyfile(
        test_plain="""
        import asyncio
        import pytest
        from conftest import CLOSED, CountedLoop

        async def test_policy_loop():
            assert asyncio.get_running_loop().made_by == "policy"

        @pytest.mark.awaitest(loop_factory=CountedLoop)
        @pytest.mark.parametrize("n", range(3))
        async def test_factory_loop(n):
            assert len(CLOSED) == n
            assert type(asyncio.get_running_loop()) is CountedLoop

        def test_each_closed_once():
            assert len(CLOSED) == 3
            assert all(loop.is_closed() for loop in CLOSED)
        """
    )
    run().assert_outcomes(passed=5)


# -- the recycling itself, directly -----------------------------------------------------------


@pytest.fixture
def factory() -> Iterator[_loops.LoopFactory]:
    """The default factory, with no kept parts at the start and the end of the test.

    (The outer session's loops may have left some.)
    """
    _loops.release_pool()
    yield _loops.DEFAULT
    _loops.release_pool()


def _raw(loop: asyncio.AbstractEventLoop) -> Any:
    return loop


@pytest.fixture
def first(factory: _loops.LoopFactory) -> Any:
    """A loop of the default factory, whose parts the next loop may get: the test closes it."""
    return _raw(factory.new_loop())


@contextlib.contextmanager
def next_loop(factory: _loops.LoopFactory) -> Iterator[Any]:
    """A new loop of `factory`, closed by it at the end (`Any`: the tests read its parts)."""
    loop = _raw(factory.new_loop())
    try:
        yield loop
    finally:
        factory.close(loop)


@unix_only
def test_the_default_factory_hands_selector_and_self_pipe_to_the_next_loop(
    factory: _loops.LoopFactory, first: Any
) -> None:
    """The next loop is a new object on the same parts; the closed one lets go of them."""
    ssock, selector = first._ssock, first._selector
    factory.close(first)
    assert first.is_closed()
    assert first._ssock is None
    assert first._selector is None
    with next_loop(factory) as second:
        assert second is not first
        assert second._ssock is ssock
        assert second._selector is selector
        assert ssock.fileno() >= 0
        # The self-pipe still wakes the loop: a thread's result comes back through it.
        assert second.run_until_complete(asyncio.to_thread(time.sleep, 0.01)) is None
        second.run_until_complete(second.shutdown_default_executor())


@unix_only
def test_a_selector_that_watched_another_file_is_not_handed_on(
    factory: _loops.LoopFactory, first: Any
) -> None:
    """Even with the reader removed, a selector that held another file is closed."""
    ssock, selector = first._ssock, first._selector
    a, b = socket.socketpair()
    with a, b:
        first.add_reader(a, print)
        first.remove_reader(a)
    factory.close(first)
    with next_loop(factory) as second:
        assert second._selector is not selector
        assert second._ssock is ssock  # the self-pipe itself is fine


@unix_only
def test_a_self_pipe_signal_handlers_use_is_not_handed_on(
    factory: _loops.LoopFactory, first: Any
) -> None:
    """A loop closed with a signal handler is closed as asyncio closes it, parts and all."""
    ssock = first._ssock
    first.add_signal_handler(signal.SIGUSR1, print)
    factory.close(first)
    assert ssock.fileno() == -1
    assert signal.set_wakeup_fd(-1) == -1
    with next_loop(factory) as second:
        assert second._ssock is not ssock


@unix_only
def test_a_loop_its_user_closed_or_still_running_keeps_its_parts(
    factory: _loops.LoopFactory, first: Any
) -> None:
    """loop.close() by the project closes everything; closing a running loop raises."""
    ssock = first._ssock
    first.close()
    factory.close(first)  # nothing left to do
    assert ssock.fileno() == -1

    second = _raw(factory.new_loop())

    async def close_while_running() -> None:
        with pytest.raises(RuntimeError, match="Cannot close a running event loop"):
            factory.close(second)

    second.run_until_complete(close_while_running())
    assert second.run_until_complete(asyncio.sleep(0, "still works")) == "still works"
    ssock = second._ssock
    factory.close(second)
    with next_loop(factory) as third:
        assert third._ssock is ssock


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_share_the_kept_parts(
    factory: _loops.LoopFactory, first: Any
) -> None:
    """The parent's kept selector (one epoll instance) and self-pipe are not the child's."""
    ssock = first._ssock
    factory.close(first)
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork() with threads
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        with next_loop(factory) as child:
            os.write(write_end, b"1" if child._ssock is not ssock else b"0")
        os._exit(0)
    os.close(write_end)
    try:
        assert os.read(read_end, 1) == b"1"
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    with next_loop(factory) as again:
        assert again._ssock is ssock  # the parent keeps its own


@unix_only
def test_loops_of_a_project_policy_are_its_own(factory: _loops.LoopFactory) -> None:
    """With a project's policy set, the default factory is asyncio.new_event_loop()."""
    made: list[asyncio.AbstractEventLoop] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)

        class Policy(asyncio.DefaultEventLoopPolicy):
            def new_event_loop(self) -> asyncio.AbstractEventLoop:
                loop: asyncio.AbstractEventLoop = super().new_event_loop()
                made.append(loop)
                return loop

        previous = asyncio.get_event_loop_policy()
        asyncio.set_event_loop_policy(Policy())
    try:
        loop = factory.new_loop()
        factory.close(loop)
        assert made == [loop]
        assert loop.is_closed()
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            asyncio.set_event_loop_policy(previous)


@unix_only
def test_a_byte_written_late_to_the_old_self_pipe_is_harmless(
    factory: _loops.LoopFactory, first: Any
) -> None:
    """A thread that raced the close may still write to the self-pipe: the next loop reads it."""
    csock = first._csock
    factory.close(first)
    assert csock.fileno() >= 0  # kept for the next loop
    csock.send(b"\0")  # what the racing call_soon_threadsafe() writes
    with next_loop(factory) as second:
        assert second.run_until_complete(asyncio.sleep(0.01, "ran")) == "ran"
        with pytest.raises(BlockingIOError):
            second._ssock.recv(16)  # the loop read (and ignored) the stray byte
