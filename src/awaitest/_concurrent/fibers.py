"""Threads that take turns: several tests' sync pytest protocols, one at a time.

A `Fiber` runs one function (a test's pytest protocol) in a thread of its
own, but only while the scheduler's thread waits for it: exactly one of them
runs at any moment, so pytest's sync machinery never runs in parallel with
itself or with the event loop. A fiber gives the turn back when it must wait
for the loop (`Scheduler.block_on`) and gets it back once what it waits for
is done; meanwhile the scheduler runs the loop, where every test's tasks
make progress together.

State that pytest and awaitest keep in one place for "the running test"
(the setup stack, the guard phase, the deadline) is swapped in and out with
the turn (`Slot`). Nothing here imports pytest.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

from . import FIBER

T = TypeVar("T")

#: Seconds between two runs of the loop while tests are being started (`Scheduler.poll`).
POLL_INTERVAL: Final = 0.005


class Slot:
    """An attribute that holds "the running test's" value: each fiber has its own."""

    __slots__ = ("attr", "initial", "obj")

    def __init__(self, obj: object, attr: str, initial: Callable[[], object]) -> None:
        self.obj = obj
        self.attr = attr
        self.initial = initial

    def get(self) -> object:
        """The value in place now."""
        return getattr(self.obj, self.attr)

    def set(self, value: object) -> None:
        """Put a value in place."""
        setattr(self.obj, self.attr, value)


class EnvSlot(Slot):
    """An environment variable each fiber has its own value of (None: unset)."""

    __slots__ = ()

    def __init__(self, name: str) -> None:
        super().__init__(os.environ, name, _unset)

    def get(self) -> object:
        return os.environ.get(self.attr)

    def set(self, value: object) -> None:
        if value is None:
            os.environ.pop(self.attr, None)
        else:
            os.environ[self.attr] = str(value)


def _unset() -> None:
    return None


def _baton() -> threading.Lock:
    """A lock held from the start: `release()` passes the turn on, `acquire()` waits for it.

    A plain lock rather than a Semaphore: each is one C call, so a hand-off
    between two threads takes half the time.
    """
    lock = threading.Lock()
    lock.acquire()
    return lock


class Fiber:
    """One function run in a thread that only runs when given the turn.

    Args:
        scheduler: The scheduler giving it turns.
        fn: What it runs (in a copy of the creator's context, with `FIBER` set).
        name: The thread's name.
    """

    def __init__(self, scheduler: Scheduler, fn: Callable[[], object], name: str) -> None:
        self.scheduler = scheduler
        self.name = name
        self.done = False
        self.error: BaseException | None = None
        #: Raised in the fiber where it waits, instead of returning (Ctrl-C).
        self.interrupt: BaseException | None = None
        self.values = [slot.initial() for slot in scheduler.slots]
        #: What the fiber's test wrote to stdout and stderr while it was not running.
        self.pending: tuple[list[str], list[str]] = ([], [])
        self.waiting: asyncio.Future[Any] | None = None
        #: The tasks started for the fiber's test (kept by whoever creates its tasks).
        self.tasks: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
        self._resume = _baton()
        self._fn = fn
        context = contextvars.copy_context()
        context.run(FIBER.set, self)
        self._thread = threading.Thread(
            target=context.run, args=(self._main,), name=name, daemon=True
        )

    def __repr__(self) -> str:
        return f"<Fiber {self.name}>"

    def value(self, slot: int) -> Any:
        """The fiber's value of `scheduler.slots[slot]`, whether it runs now or not."""
        if self.scheduler.running is self:
            return self.scheduler.slots[slot].get()
        return self.values[slot]

    def _main(self) -> None:
        self._resume.acquire()
        try:
            self._fn()
        except BaseException as exc:  # handed to the scheduler's thread
            self.error = exc
        finally:
            self.done = True
            self.scheduler._turn.release()


class Scheduler:
    """Gives fibers turns and runs the event loop while they wait.

    Args:
        loop: The loop the fibers' tests share.
        slots: The attributes each fiber has its own value of.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, slots: Iterable[Slot]) -> None:
        self.loop = loop
        self.slots = list(slots)
        #: The fiber holding the turn, or None (the scheduler's thread has it).
        self.running: Fiber | None = None
        self.fibers: list[Fiber] = []
        self._turn = _baton()
        self._ready: collections.deque[Fiber] = collections.deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._polled = 0.0
        #: Called (in the scheduler's thread) with each fiber that has finished.
        self.on_done: Callable[[Fiber], object] | None = None
        #: Called with each fiber as its turn begins (its values in place) and ends.
        self.on_turn: tuple[Callable[[Fiber], object], Callable[[Fiber], object]] | None = None

    def add_slots(self, slots: Iterable[Slot]) -> None:
        """Give every fiber its own value of more attributes.

        Added during a turn, the running fiber's value is the one in place.
        """
        for slot in slots:
            self.slots.append(slot)
            for fiber in self.fibers:
                fiber.values.append(slot.initial())

    def _install(self, fiber: Fiber) -> list[object]:
        """Put the fiber's values in place; return the ones they replaced."""
        saved = []
        for slot, value in zip(self.slots, fiber.values, strict=True):
            current = slot.get()
            saved.append(current)
            if value is not current:
                slot.set(value)
        return saved

    def _uninstall(self, fiber: Fiber, saved: list[object]) -> None:
        """Keep the fiber's values; put back `saved` (a slot added meanwhile: its initial)."""
        values = fiber.values
        for n, slot in enumerate(self.slots):
            values[n] = current = slot.get()
            previous = saved[n] if n < len(saved) else slot.initial()
            if previous is not current:
                slot.set(previous)

    def start(self, fiber: Fiber) -> None:
        """Start a fiber and give it its first turn (in the scheduler's thread)."""
        self.fibers.append(fiber)
        fiber._thread.start()
        self._switch_to(fiber)

    def in_fiber(self) -> Fiber | None:
        """The fiber the calling thread is, if it is one of this scheduler's."""
        fiber = self.running
        if fiber is not None and fiber._thread is threading.current_thread():
            return fiber
        return None

    def _switch_to(self, fiber: Fiber) -> None:
        saved = self._install(fiber)
        self.running = fiber
        on_turn = self.on_turn
        if on_turn is not None:
            on_turn[0](fiber)
        fiber._resume.release()
        try:
            self._take_turn()
        finally:
            if on_turn is not None:
                on_turn[1](fiber)
            self.running = None
            self._uninstall(fiber, saved)
            if fiber.done:
                self.fibers.remove(fiber)
                if self.on_done is not None:
                    self.on_done(fiber)

    def borrow(self, fiber: Fiber, fn: Callable[[], T]) -> T:
        """Call `fn` in the scheduler's thread with a waiting fiber's values in place.

        For sync pytest calls a fiber's test makes from the loop
        (`request.getfixturevalue()` in the test's body).
        """
        assert self.running is None, "borrow() called during a fiber's turn"
        assert not fiber.done, "borrow() needs a waiting fiber"
        saved = self._install(fiber)
        self.running = fiber
        try:
            return fn()
        finally:
            self.running = None
            self._uninstall(fiber, saved)

    def _take_turn(self) -> None:
        """Wait for the running fiber to give the turn back, even through Ctrl-C."""
        interrupted: BaseException | None = None
        while True:
            try:
                self._turn.acquire()
                break
            except BaseException as exc:  # the fiber still runs: never run beside it
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted

    def block_on(self, future: asyncio.Future[T]) -> T:
        """Give the turn back until `future` is done (in a fiber); return its result."""
        fiber = self.in_fiber()
        assert fiber is not None, "block_on() called outside a fiber"
        if not future.done():
            fiber.waiting = future
            future.add_done_callback(lambda _: self._wake(fiber, future))
            self._turn.release()
            fiber._resume.acquire()
            fiber.waiting = None
        interrupt, fiber.interrupt = fiber.interrupt, None
        if interrupt is not None and not future.done():
            raise interrupt
        return future.result()

    def _wake(self, fiber: Fiber, future: asyncio.Future[Any]) -> None:
        if fiber.waiting is not future or fiber in self._ready:
            return
        self._ready.append(fiber)
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def run_until(self, done: Callable[[], bool]) -> None:
        """Run the loop and give turns to woken fibers until `done()` (scheduler's thread).

        If the loop is interrupted (Ctrl-C, SystemExit), every waiting fiber
        is resumed with that exception, so its test tears down, and then it
        is raised here.
        """
        try:
            while not done():
                if self._ready:
                    self._switch_to(self._ready.popleft())
                    continue
                if not any(f.waiting is not None for f in self.fibers):
                    return  # nothing can wake: the caller decides what is done
                self._run_loop(wait=True)
        except BaseException as exc:
            self.interrupt_all(exc)
            raise

    def poll(self) -> None:
        """Run what the loop has ready, without waiting; the fibers it wakes wait their turn.

        Called between test starts: the tests started so far make progress
        (their requests go out) while the next one starts, and the turns of
        those it woke (their teardowns) come later, while the loop waits for
        the last started. Interrupted, it stops the waiting fibers like
        `run_until`.
        """
        now = time.perf_counter()
        if now - self._polled < POLL_INTERVAL:
            return
        self._polled = now
        try:
            self._run_loop(wait=False)
        except BaseException as exc:
            self.interrupt_all(exc)
            raise

    def _run_loop(self, *, wait: bool) -> None:
        """Run the loop until a fiber wakes, or (not `wait`) for one round of ready work."""
        loop = self.loop
        self._wakeup = wakeup = loop.create_future()
        if not wait:
            loop.call_soon(_set_done, wakeup)
        try:
            loop.run_until_complete(wakeup)
        finally:
            self._wakeup = None

    def interrupt_all(self, exc: BaseException) -> None:
        """Raise `exc` in every waiting fiber, then run them all to their end.

        Each fiber's test fails (or stops) where it waited and tears down as
        usual; a second interrupt stops the waiting for them.
        """
        for fiber in self.fibers:
            if fiber.waiting is not None and fiber.interrupt is None:
                fiber.interrupt = copy_exception(exc)
                if fiber not in self._ready:
                    self._ready.append(fiber)
        self.run_until(lambda: not self.fibers)


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def copy_exception(exc: BaseException) -> BaseException:
    """A fresh exception like `exc` for one fiber (each raise rewrites its traceback)."""
    try:
        return type(exc)(*exc.args)
    except Exception:  # an exception type with another constructor
        return exc
