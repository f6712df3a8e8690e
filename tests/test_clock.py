"""The virtual clock, driven directly on real asyncio loops (it imports nothing from pytest)."""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Iterator
from typing import Any, TypeVar

import pytest

from awaitest import ConfigError
from awaitest._clock import VirtualClock, clock_of

T = TypeVar("T")

YEAR = 365 * 24 * 3600


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh asyncio loop, closed (with its executor) at teardown."""
    loop = asyncio.new_event_loop()
    yield loop
    clock = clock_of(loop)
    if clock is not None:
        clock.uninstall()
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


@pytest.fixture
def clock(loop: asyncio.AbstractEventLoop) -> VirtualClock:
    """A virtual clock (autojump on) installed on `loop`."""
    clock = VirtualClock()
    clock.install(loop)
    return clock


def run(loop: asyncio.AbstractEventLoop, coro: Awaitable[T], limit: float = 10) -> T:
    """Run `coro` on `loop`; stop the loop after `limit` real seconds instead of hanging."""
    watchdog = threading.Timer(limit, loop.call_soon_threadsafe, (loop.stop,))
    watchdog.start()
    try:
        return loop.run_until_complete(coro)
    finally:
        watchdog.cancel()


# -- exact time ----------------------------------------------------------------------------


def test_concurrent_sleeps_take_exactly_their_delay(
    loop: asyncio.AbstractEventLoop, clock: VirtualClock
) -> None:
    """Five 0.01 s sleeps gathered take exactly 0.01 s of loop time, from 0.0."""

    async def main() -> float:
        start = loop.time()
        await asyncio.gather(*(asyncio.sleep(0.01) for _ in range(5)))
        return loop.time() - start

    assert loop.time() == 0.0
    assert run(loop, main()) == 0.01
    assert clock.time() == 0.01


def test_long_sleeps_take_no_real_time(
    loop: asyncio.AbstractEventLoop, clock: VirtualClock
) -> None:
    """200 one-second sleeps end at loop time 200 in well under a second of real time."""

    async def main() -> None:
        for _ in range(200):
            await asyncio.sleep(1)

    started = time.monotonic()
    run(loop, main())
    assert loop.time() == 200.0
    assert time.monotonic() - started < 5  # not a benchmark: 200 real seconds otherwise


def test_timers_fire_in_deadline_order_at_their_deadlines(
    loop: asyncio.AbstractEventLoop, clock: VirtualClock
) -> None:
    """call_at and call_later callbacks run in deadline order, each at its exact time."""
    fired: list[tuple[str, float]] = []
    done = loop.create_future()

    def record(name: str) -> None:
        fired.append((name, loop.time()))
        if len(fired) == 4:
            done.set_result(None)

    loop.call_at(3.0, record, "at 3")
    loop.call_later(0.5, record, "later 0.5")
    loop.call_at(2.25, record, "at 2.25")
    loop.call_at(0.5, record, "at 0.5")
    run(loop, done)
    assert fired == [("later 0.5", 0.5), ("at 0.5", 0.5), ("at 2.25", 2.25), ("at 3", 3.0)]


def test_a_jump_lands_exactly_on_the_deadline(
    loop: asyncio.AbstractEventLoop, clock: VirtualClock
) -> None:
    """At 0.1, 0.1 + (3/7 - 0.1) rounds away from 3/7; the clock lands on 3/7 itself."""

    async def main() -> float:
        await asyncio.sleep(0.1)
        fired: asyncio.Future[float] = loop.create_future()
        loop.call_at(3 / 7, lambda: fired.set_result(loop.time()))
        return await fired

    assert 0.1 + (3 / 7 - 0.1) != 3 / 7
    assert run(loop, main()) == 3 / 7


def test_a_year_long_sleep_ends(loop: asyncio.AbstractEventLoop, clock: VirtualClock) -> None:
    """Past 2**24 s the loop's `time() + resolution` rounds to `time()`; timers still fire."""
    run(loop, asyncio.sleep(YEAR), limit=5)
    assert loop.time() == pytest.approx(YEAR, abs=1e-6)


# -- timeouts ------------------------------------------------------------------------------


def test_wait_for_times_out_at_its_deadline(
    loop: asyncio.AbstractEventLoop, clock: VirtualClock
) -> None:
    """wait_for raises TimeoutError at exactly its timeout, in no real time."""

    async def main() -> None:
        await asyncio.wait_for(asyncio.sleep(60), timeout=2.5)

    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        run(loop, main())
    assert loop.time() == 2.5
    assert time.monotonic() - started < 5


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout() is new in 3.11")
def test_asyncio_timeout_fires_at_its_deadline(
    loop: asyncio.AbstractEventLoop, clock: VirtualClock
) -> None:
    """asyncio.timeout() cancels its block at exactly its delay; a shorter sleep inside ends."""
    timeout: Any = asyncio.timeout  # type: ignore[attr-defined,unused-ignore]  # 3.11+

    async def main() -> tuple[float, float]:
        async with timeout(9):
            await asyncio.sleep(1)
        inner_done = loop.time()
        try:
            async with timeout(0.75):
                await asyncio.sleep(10)
        except TimeoutError:
            return inner_done, loop.time()
        raise AssertionError("the timeout did not fire")

    assert run(loop, main()) == (1.0, 1.75)


# -- when time must not jump ----------------------------------------------------------------


def test_time_stands_still_while_callbacks_are_ready(
    loop: asyncio.AbstractEventLoop, clock: VirtualClock
) -> None:
    """A task that keeps yielding holds the clock, though a timer is pending."""

    async def busy() -> list[float]:
        seen = []
        for _ in range(100):
            await asyncio.sleep(0)
            seen.append(loop.time())
        return seen

    async def main() -> list[float]:
        sleeper = asyncio.ensure_future(asyncio.sleep(1))
        seen = await busy()
        await sleeper
        return seen

    assert run(loop, main()) == [0.0] * 100
    assert loop.time() == 1.0


def test_no_jump_while_a_thread_works(loop: asyncio.AbstractEventLoop, clock: VirtualClock) -> None:
    """Executor work does not time out: the clock follows real time until it is done."""

    async def main() -> str:
        await asyncio.wait_for(asyncio.to_thread(time.sleep, 0.05), 1)
        return await asyncio.wait_for(loop.run_in_executor(None, str, 42), 1)

    assert run(loop, main()) == "42"
    # Real time is followed from when the clock sees the executor busy: a hair after the
    # thread started. What matters is that it did not jump ahead to the 1 s deadline.
    assert 0.045 <= loop.time() < 1


def test_a_timer_due_while_a_thread_works_fires_in_real_time(
    loop: asyncio.AbstractEventLoop, clock: VirtualClock
) -> None:
    """A deadline shorter than the thread's work passes after its real delay, exactly."""

    async def main() -> None:
        await asyncio.wait_for(asyncio.to_thread(time.sleep, 0.5), 0.1)

    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        run(loop, main())
    assert loop.time() == 0.1
    assert time.monotonic() - started >= 0.1


def test_no_jump_while_a_socket_has_data(
    loop: asyncio.AbstractEventLoop, clock: VirtualClock
) -> None:
    """Ready I/O is handled at the current time, before the clock jumps to a timer."""
    left, right = socket.socketpair()

    async def main() -> tuple[bytes, float]:
        got: asyncio.Future[tuple[bytes, float]] = loop.create_future()
        loop.add_reader(left, lambda: got.set_result((left.recv(16), loop.time())))
        right.send(b"ping")
        try:
            return await asyncio.wait_for(got, 5)
        finally:
            loop.remove_reader(left)

    with left, right:
        assert run(loop, main()) == (b"ping", 0.0)


def test_real_time_block_follows_real_time(
    loop: asyncio.AbstractEventLoop, clock: VirtualClock
) -> None:
    """Inside real_time() a sleep takes its real delay and still ends on its deadline."""

    async def main() -> None:
        with clock.real_time():
            await asyncio.sleep(0.05)
        await asyncio.sleep(100)

    started = time.monotonic()
    run(loop, main())
    assert time.monotonic() - started >= 0.05
    assert loop.time() == 100.05


# -- moving time by hand -------------------------------------------------------------------


def test_advance_with_autojump_off(loop: asyncio.AbstractEventLoop) -> None:
    """With autojump off only advance() moves time; due timers run once the caller yields."""
    clock = VirtualClock(autojump=False)
    clock.install(loop)

    async def main() -> list[tuple[float, bool]]:
        sleeper = asyncio.ensure_future(asyncio.sleep(5))
        steps = []
        for seconds in (0, 4, 0.5, 0.5):
            clock.advance(seconds)
            await clock.wait_all_tasks_blocked()
            steps.append((loop.time(), sleeper.done()))
        later = asyncio.ensure_future(asyncio.sleep(10))
        await asyncio.to_thread(time.sleep, 0.01)  # idle, a timer pending: no jump
        steps.append((loop.time(), later.done()))
        later.cancel()
        return steps

    assert run(loop, main()) == [
        (0.0, False),
        (4.0, False),
        (4.5, False),
        (5.0, True),
        (5.0, False),
    ]


def test_wait_all_tasks_blocked_returns_before_autojump(
    loop: asyncio.AbstractEventLoop, clock: VirtualClock
) -> None:
    """A task waiting for the loop to be idle is woken instead of the clock jumping."""

    async def main() -> tuple[float, bool]:
        sleeper = asyncio.ensure_future(asyncio.sleep(1))
        await clock.wait_all_tasks_blocked()
        seen = (loop.time(), sleeper.done())
        await sleeper
        return seen

    assert run(loop, main()) == (0.0, False)
    assert loop.time() == 1.0


def test_advance_from_another_thread_wakes_the_loop(loop: asyncio.AbstractEventLoop) -> None:
    """A loop blocked with autojump off wakes when another thread advances the clock."""
    clock = VirtualClock(autojump=False)
    clock.install(loop)
    threading.Timer(0.05, clock.advance, (3,)).start()
    run(loop, asyncio.sleep(3), limit=5)
    assert loop.time() == 3.0


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf")])
def test_advance_refuses_to_go_back(seconds: float) -> None:
    """Time only moves forward, by a finite amount."""
    clock = VirtualClock(start=7)
    with pytest.raises(ValueError, match=r"^VirtualClock\.advance\(.*\): time only moves") as err:
        clock.advance(seconds)
    assert str(err.value).endswith("by a finite number of seconds; pass 0 or more.")
    assert clock.time() == 7


# -- installing and uninstalling ------------------------------------------------------------


def test_uninstall_restores_the_loop(loop: asyncio.AbstractEventLoop) -> None:
    """After uninstall the loop reads real time again and timers keep their remaining delay."""
    selector = loop._selector  # type: ignore[attr-defined]
    before = loop.call_later(100, lambda: None)
    clock = VirtualClock()
    clock.install(loop)
    assert clock_of(loop) is clock
    assert before.when() == pytest.approx(100, abs=1)
    run(loop, asyncio.sleep(30))
    during = loop.call_later(10, lambda: None)
    assert during.when() == 40.0

    clock.uninstall()
    now = time.monotonic()
    assert clock_of(loop) is None
    assert clock.loop is None
    for name in ("time", "run_in_executor"):
        assert name not in vars(loop)
    assert "select" not in vars(selector)
    assert loop.time() == pytest.approx(now, abs=1)
    assert during.when() == pytest.approx(now + 10, abs=1)
    assert before.when() == pytest.approx(now + 70, abs=1)
    run(loop, asyncio.sleep(0.01))
    assert clock.time() == 30.0
    clock.uninstall()  # a second time does nothing
    before.cancel()
    during.cancel()


def test_a_clock_is_installed_once(loop: asyncio.AbstractEventLoop, clock: VirtualClock) -> None:
    """A second clock on the same loop, or the same clock on a second loop, is refused."""
    assert clock.loop is loop
    with pytest.raises(RuntimeError, match="runs on a virtual clock already"):
        VirtualClock().install(loop)
    other = asyncio.new_event_loop()
    try:
        with pytest.raises(RuntimeError, match="is installed on another loop already"):
            clock.install(other)
        assert clock_of(other) is None
    finally:
        other.close()


def test_uvloop_is_refused() -> None:
    """The clock of a uvloop loop cannot be replaced: the error says so and what to do."""
    uvloop = pytest.importorskip("uvloop")
    loop = uvloop.new_event_loop()
    try:
        with pytest.raises(ConfigError) as err:
            VirtualClock().install(loop)
        assert str(err.value) == (
            "uvloop loops cannot run on virtual time: uvloop keeps its clock and timers in C, "
            'with no hook to replace them. Use the asyncio loop for this test (loop_factory="'
            'asyncio") or turn virtual time off (virtual_time=False).'
        )
        assert clock_of(loop) is None
    finally:
        loop.close()


def test_other_loops_are_refused() -> None:
    """A loop that is not one of asyncio's own has no selector to hook: refused, named."""

    class HomeMadeLoop(asyncio.AbstractEventLoop):
        def is_closed(self) -> bool:
            return False

    with pytest.raises(ConfigError) as err:
        VirtualClock().install(HomeMadeLoop())  # type: ignore[abstract]
    assert str(err.value).startswith(
        "HomeMadeLoop loops cannot run on virtual time: awaitest can only replace the clock "
        "of asyncio's own selector and proactor loops. Use the asyncio loop"
    )


def test_a_closed_loop_is_refused() -> None:
    """Installing on a closed loop is a RuntimeError, and leaves the clock free."""
    loop = asyncio.new_event_loop()
    loop.close()
    clock = VirtualClock()
    with pytest.raises(RuntimeError, match="cannot install a virtual clock on a closed loop"):
        clock.install(loop)
    assert clock.loop is None


def test_uninstall_after_the_loop_closed() -> None:
    """A loop closed while on virtual time can still be given its own time back."""
    loop = asyncio.new_event_loop()
    clock = VirtualClock()
    clock.install(loop)
    run(loop, asyncio.sleep(5))
    loop.close()
    clock.uninstall()
    assert "time" not in vars(loop)
    assert clock_of(loop) is None
    assert clock.time() == 5.0
