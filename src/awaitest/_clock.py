"""Virtual time for asyncio event loops.

A `VirtualClock` installed on a loop replaces the loop's time: `loop.time()`
reads the clock, which starts at 0.0, and whenever every task waits on a
timer (no callback ready, no I/O ready, no executor work running) the clock
jumps straight to the next timer's deadline instead of sleeping. So
`asyncio.sleep`, `wait_for`, `asyncio.timeout`, `call_later` and `call_at`
take no real time, and the loop time they see is exact: the clock stops on
each deadline, never past it. The idea is trio's `MockClock` with
`autojump_threshold=0`; the mechanism is the `looptime` package's.

How: `BaseEventLoop._run_once` computes its select timeout from the first
scheduled timer and `loop.time()`, then calls `loop._selector.select(timeout)`
(the same in CPython 3.10 to 3.14). The clock sets three instance attributes
and reads two private ones, and touches nothing else:

* `loop.time` -> `VirtualClock.time`;
* `loop.run_in_executor` -> a wrapper that remembers the futures it returns
  (`asyncio.to_thread` and `getaddrinfo` go through it), so the clock
  follows real time, instead of jumping, while a thread works for the loop;
* `loop._selector.select` -> `VirtualClock._select`, which polls I/O first
  and only if nothing is ready decides to jump, follow real time or block;
* read: `loop._scheduled` (the timer heap; the deadline of its head is where
  a jump lands, exactly) and the `_when` of its timer handles, which are
  shifted between real and virtual time at install and uninstall so a timer
  pending across the switch keeps its remaining delay.

Loops without a selector to hook (uvloop, whose clock lives in C) are refused
with a `ConfigError`. Nothing here imports pytest, decides which tests run on
virtual time, or enforces per-test deadlines: those use real time
(`time.monotonic()`), which the clock never touches.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

from ._errors import ConfigError

_Events = list[tuple[Any, int]]
_Select = Callable[[float | None], _Events]
_MONOTONIC_RESOLUTION: Final = time.get_clock_info("monotonic").resolution


def _loop_kind(loop: asyncio.AbstractEventLoop) -> str:
    cls = type(loop)
    package = cls.__module__.partition(".")[0]
    return package if package == "uvloop" else cls.__name__


class VirtualClock:
    """A clock that replaces an asyncio loop's time and skips idle waits.

    Time moves in three ways only:

    * **autojump** (on by default): when nothing can run and no I/O is ready,
      the clock jumps to the next timer's deadline, exactly;
    * **real time**: while executor work started by the loop is pending
      (`run_in_executor`, `asyncio.to_thread`) or a `real_time()` block is
      open, the clock moves at the speed of `time.monotonic()` and still
      stops on each deadline;
    * **advance()**: moves it by hand.

    It never moves while a callback is ready or I/O is ready, and never
    while a callback runs. With autojump off, only `advance()` and
    `real_time()` move it.

    Args:
        start: The time the clock reads when created.
        autojump: Whether the clock jumps to the next deadline when idle.
    """

    def __init__(self, *, start: float = 0.0, autojump: bool = True) -> None:
        self._now = float(start)
        self._autojump = autojump
        self._loop: asyncio.AbstractEventLoop | None = None
        self._selector: object = None
        self._saved: dict[str, Any] = {}
        self._executor_futures: set[asyncio.Future[Any]] = set()
        self._real_time_depth = 0
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._resolution = _MONOTONIC_RESOLUTION

    def __repr__(self) -> str:
        state = "installed" if self._loop is not None else "not installed"
        return f"<VirtualClock time={self._now!r} autojump={self._autojump} {state}>"

    # -- reading and moving time ------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop the clock is installed on, or None."""
        return self._loop

    @property
    def autojump(self) -> bool:
        """Whether the clock jumps to the next timer when the loop is idle."""
        return self._autojump

    @autojump.setter
    def autojump(self, value: bool) -> None:
        self._autojump = bool(value)
        self._wake()

    def time(self) -> float:
        """Return the virtual time: what `loop.time()` returns while installed."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds`, as trio's `MockClock.jump` does.

        The call is synchronous and runs nothing itself: timers that fall due
        run on the loop's next iteration, once the caller yields. To go on
        after the tasks they wake have run, `await wait_all_tasks_blocked()`.
        Safe to call from another thread; the loop is woken up.

        Args:
            seconds: How far to move; 0 or more.

        Raises:
            ValueError: `seconds` is negative or not a finite number.
        """
        __tracebackhide__ = True
        if not math.isfinite(seconds) or seconds < 0:
            msg = (
                f"VirtualClock.advance({seconds!r}): time only moves forward by a finite "
                "number of seconds; pass 0 or more."
            )
            raise ValueError(msg)
        self._set_now(self._now + seconds)
        self._wake()

    @contextlib.contextmanager
    def real_time(self) -> Iterator[None]:
        """Let the clock follow real time, without jumping, inside the block.

        For waits on something the loop cannot see working: a thread started
        without `run_in_executor` (aiosqlite's connection thread, anyio's
        worker threads), a subprocess, a real server. While any such block is
        open, on any task of the loop, the clock moves with
        `time.monotonic()` and timers fire when their real delay has passed.

        Yields:
            Nothing.
        """
        self._real_time_depth += 1
        try:
            yield
        finally:
            self._real_time_depth -= 1

    async def wait_all_tasks_blocked(self) -> None:
        """Return once no callback is ready to run on the loop.

        Every other task then waits on a timer, I/O, a thread or a future.
        Idle waiters are woken instead of jumping the clock, so with autojump
        on this returns before time moves. Use it after `advance()` to let
        the tasks it woke run (trio has `trio.testing.wait_all_tasks_blocked`).

        Raises:
            RuntimeError: Not called from a task of the clock's loop.
        """
        __tracebackhide__ = True
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            msg = (
                "VirtualClock.wait_all_tasks_blocked() must be awaited on the loop the clock "
                "is installed on."
            )
            raise RuntimeError(msg)
        waiter: asyncio.Future[None] = loop.create_future()
        self._idle_waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._idle_waiters:
                self._idle_waiters.remove(waiter)

    # -- installing -------------------------------------------------------------------------

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Put `loop` on this clock's time until `uninstall()`.

        Timers already scheduled on the loop keep their remaining delay.

        Args:
            loop: An asyncio event loop (selector or proactor based), open.

        Raises:
            ConfigError: The loop cannot run on virtual time (uvloop, or a
                loop with no selector to hook).
            RuntimeError: The clock is installed already, the loop already
                runs on another clock, or the loop is closed.
        """
        __tracebackhide__ = True
        if loop.is_closed():
            msg = f"cannot install a virtual clock on a closed loop: {loop!r}."
            raise RuntimeError(msg)
        selector = getattr(loop, "_selector", None)
        if (
            not isinstance(loop, asyncio.BaseEventLoop)
            or selector is None
            or not isinstance(getattr(loop, "_scheduled", None), list)
        ):
            kind = _loop_kind(loop)
            why = (
                "uvloop keeps its clock and timers in C, with no hook to replace them"
                if kind == "uvloop"
                else "awaitest can only replace the clock of asyncio's own selector and "
                "proactor loops"
            )
            msg = (
                f"{kind} loops cannot run on virtual time: {why}. Use the asyncio loop for "
                'this test (loop_factory="asyncio") or turn virtual time off '
                "(virtual_time=False)."
            )
            raise ConfigError(msg)
        if self._loop is not None:
            msg = f"{self!r} is installed on another loop already; uninstall() it first."
            raise RuntimeError(msg)
        if clock_of(loop) is not None:
            msg = f"{loop!r} runs on a virtual clock already; uninstall that one first."
            raise RuntimeError(msg)
        self._shift_timers(loop, self._now - loop.time())
        attrs = vars(loop)
        for name in ("time", "run_in_executor"):
            if name in attrs:
                self._saved[name] = attrs[name]
        self._saved["select"] = vars(selector).get("select")
        self._selector = selector
        self._loop = loop
        self._resolution = getattr(loop, "_clock_resolution", _MONOTONIC_RESOLUTION)
        attrs["run_in_executor"] = functools.partial(self._run_in_executor, loop.run_in_executor)
        attrs["time"] = self.time
        vars(selector)["select"] = functools.partial(self._select, selector.select)

    def uninstall(self) -> None:
        """Give the loop its own time back; undo everything `install()` did.

        Timers still scheduled keep their remaining delay, now in real time.
        Idempotent, and safe on a loop closed meanwhile.
        """
        loop = self._loop
        if loop is None:
            return
        attrs = vars(loop)
        for name in ("time", "run_in_executor"):
            if name in self._saved:
                attrs[name] = self._saved[name]
            else:
                attrs.pop(name, None)
        selector_attrs = vars(self._selector)
        if self._saved["select"] is None:
            selector_attrs.pop("select", None)
        else:
            selector_attrs["select"] = self._saved["select"]
        if not loop.is_closed():
            self._shift_timers(loop, loop.time() - self._now)
        for waiter in self._idle_waiters:
            if not waiter.done():
                waiter.cancel()
        self._idle_waiters.clear()
        self._executor_futures.clear()
        self._saved.clear()
        self._loop = None
        self._selector = None

    # -- the loop's hooks -------------------------------------------------------------------

    @staticmethod
    def _shift_timers(loop: asyncio.AbstractEventLoop, offset: float) -> None:
        # A uniform shift keeps the heap ordered, so no re-heapify is needed.
        for handle in getattr(loop, "_scheduled", ()):
            handle._when += offset

    def _run_in_executor(
        self, run_in_executor: Callable[..., Any], executor: Any, func: Any, *args: Any
    ) -> Any:
        future = run_in_executor(executor, func, *args)
        self._executor_futures.add(future)
        return future

    def _executor_busy(self) -> bool:
        busy = {future for future in self._executor_futures if not future.done()}
        self._executor_futures = busy
        return bool(busy)

    def _set_now(self, when: float) -> None:
        # The loop runs the timers due before `time() + resolution`. Past 2**24 s that
        # sum rounds back to `time()`, and a timer due exactly now would never run: land
        # one float further.
        if when + self._resolution <= when:
            when = math.nextafter(when, math.inf)
        self._now = max(self._now, when)

    def _next_deadline(self, timeout: float) -> float:
        scheduled = getattr(self._loop, "_scheduled", None)
        if scheduled:
            # Exact: `now + (when - now)` need not round back to `when`.
            when: float = scheduled[0].when()
            return when
        return self._now + timeout  # pragma: no cover - a timeout comes from a timer

    def _select(self, select: _Select, timeout: float | None = None) -> _Events:
        if timeout is not None and timeout <= 0:
            return select(0)  # a callback is ready or a timer is due: time stands still
        events = select(0)  # I/O that is ready runs before time moves
        if events:
            return events
        if self._idle_waiters:
            for waiter in self._idle_waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._idle_waiters.clear()
            return events
        if self._real_time_depth or (self._autojump and self._executor_busy()):
            return self._select_following_real_time(select, timeout)
        if self._autojump and timeout is not None:
            self._set_now(self._next_deadline(timeout))
            return events
        # Nothing scheduled, or autojump off: only I/O, a thread or advance() can wake us.
        return select(None)

    def _select_following_real_time(self, select: _Select, timeout: float | None) -> _Events:
        started = time.monotonic()
        events = select(timeout)
        elapsed = time.monotonic() - started
        if timeout is None:
            self._set_now(self._now + elapsed)
        else:
            deadline = self._next_deadline(timeout)
            self._set_now(min(self._now + elapsed, deadline) if events else deadline)
        return events

    def _wake(self) -> None:
        """Wake the loop if it may be blocked in select in another thread."""
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            loop.call_soon_threadsafe(lambda: None)


def clock_of(loop: asyncio.AbstractEventLoop) -> VirtualClock | None:
    """Return the virtual clock installed on `loop`, or None.

    Args:
        loop: Any event loop.

    Returns:
        The `VirtualClock` whose time the loop reads, if any.
    """
    patched = getattr(loop, "__dict__", {}).get("time")
    owner = getattr(patched, "__self__", None)
    return owner if isinstance(owner, VirtualClock) else None
