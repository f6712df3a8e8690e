"""Event loops and the tasks awaitest runs on them.

A `LoopRunner` owns one event loop for as long as its owner (a test, class,
module, package or the session) lives. It is the only code in awaitest that
creates tasks, runs the loop or closes it:

* `run` drives one coroutine (a coroutine fixture, an async xunit hook) as a
  task in a given context;
* `run_test` drives a test; if one of the test's fixture tasks dies while
  the test runs, the test is cancelled and fails naming that fixture;
* `start_fixture` drives an async-generator fixture in a task of its own that
  lives from setup to teardown, so task groups, `asyncio.timeout()` and anyio
  cancel scopes may be held across `yield`;
* `close` cancels what is left, shuts down async generators and the default
  executor (each only if the loop has any), and closes the loop.

It imports nothing from pytest: which loop a test uses is decided elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sys
import traceback
import weakref
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from ._concurrent import FIBER
from ._errors import FixtureCrashedError, FixtureError
from ._loops import LoopFactory

if TYPE_CHECKING:
    from ._concurrent.fibers import Scheduler
    from ._guards import Guards, Snapshot
    from ._timeouts import Timeouts

T = TypeVar("T")

_DURING_TEST = "while the test was using it (the test was cancelled)"

#: What asyncio raises when the loop was stopped while run_until_complete() waited.
_STOPPED = "Event loop stopped before Future completed."

#: How long a cancelled task gets to unwind before awaitest gives up waiting for it.
_UNWIND_GRACE = 1.0

if sys.version_info >= (3, 11):

    def _spawn(
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, T],
        context: contextvars.Context,
    ) -> asyncio.Task[T]:
        return loop.create_task(coro, context=context)

else:  # pragma: no cover - create_task() takes no context before 3.11

    def _spawn(
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, T],
        context: contextvars.Context,
    ) -> asyncio.Task[T]:
        return context.run(loop.create_task, coro)


def cancel_and_wait(
    loop: asyncio.AbstractEventLoop, tasks: list[asyncio.Task[Any]], timeout: float = _UNWIND_GRACE
) -> None:
    """Cancel `tasks` and run the loop until they end, or for `timeout` seconds at most.

    What they raise on the way out is retrieved: awaitest reports it elsewhere if it matters.
    """
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.wait(tasks, timeout=timeout))
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()


class LoopRunner:
    """One event loop and everything awaitest runs on it.

    Args:
        factory: Makes the loop.
        label: How messages name this loop, e.g. "the session loop".
        guards: The session's guards, watching this loop (None: unwatched).
        timeouts: The session's deadlines, which may cancel what runs here.
    """

    def __init__(
        self,
        factory: LoopFactory,
        label: str,
        *,
        guards: Guards | None = None,
        timeouts: Timeouts | None = None,
        debug: bool = False,
    ) -> None:
        self.factory = factory
        self.label = label
        self.loop = loop = factory.new_loop()
        self.guards = guards
        self.timeouts = timeouts
        if debug:
            loop.set_debug(True)
        if guards is not None:
            guards.attach(loop)
        #: Set while tests run concurrently on this loop: fibers wait through it.
        self.driver: Scheduler | None = None
        #: The running test's task, per concurrent test (key None: tests run one by one).
        self._test_tasks: dict[object, asyncio.Task[Any]] = {}
        self._abandoned: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
        self._crashed: list[FixtureLifetime] = []

    def __repr__(self) -> str:
        return f"<LoopRunner {self.label} ({self.factory.id})>"

    def check_can_run(self, what: str) -> None:
        """Raise `FixtureError` if a loop is already running in this thread."""
        __tracebackhide__ = True
        if asyncio._get_running_loop() is not None:
            msg = (
                f"{what} cannot run: an event loop is already running in this thread. "
                "awaitest sets up async fixtures between awaits, not inside them: if "
                "request.getfixturevalue() was called from async code, request the fixture "
                "as an argument instead."
            )
            raise FixtureError(msg)

    def _wait(
        self,
        awaitable: asyncio.Future[T],
        task: asyncio.Task[Any],
        what: str,
        root: object = None,
    ) -> T:
        """Run the loop until `awaitable` is done; on an interrupt, cancel `task` first.

        `what` names what runs ("test", "setup of fixture 'db'") in timeout messages;
        `root` is where its await stack starts, if not at `task` (a fixture's generator).
        """
        __tracebackhide__ = True
        loop, guards, timeouts = self.loop, self.guards, self.timeouts
        previous = guards.enter(loop) if guards is not None else None
        try:
            if timeouts is None or not timeouts.active:
                return self._drive(awaitable)
            with timeouts.driving(loop, task, what, root):
                return self._drive(awaitable)
        except BaseException:
            if not task.done():
                # Interrupted inside the loop (KeyboardInterrupt, SystemExit, a timeout):
                # let the task unwind so its finally blocks and fixture teardowns still run.
                # A task that catches the cancellation gets a grace period, not forever.
                task.cancel()
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(asyncio.wait([task], timeout=_UNWIND_GRACE))
                if not task.done():
                    self._abandon(task)
            raise
        finally:
            if guards is not None:
                guards.leave(loop, previous)

    def _drive(self, awaitable: asyncio.Future[T]) -> T:
        """Run the loop until `awaitable` is done, or, in a concurrent test, wait for it."""
        driver = self.driver
        if driver is not None and driver.in_fiber() is not None:
            return driver.block_on(awaitable)
        return self.loop.run_until_complete(awaitable)

    def run(
        self,
        make: Callable[[], Coroutine[Any, Any, T]],
        context: contextvars.Context,
        what: str,
        *,
        wide: bool = False,
    ) -> T:
        """Run the coroutine `make()` returns as a task in `context`; return its result.

        `make` is called only once the loop is known to be free to run, so a
        refused run leaves no never-awaited coroutine behind.

        Args:
            make: Makes the coroutine to run.
            context: The context the task runs in.
            what: What is being run, for error messages.
            wide: It is a wider-scoped fixture: the tasks it starts are its own,
                not the current test's.

        Returns:
            What the coroutine returned.
        """
        __tracebackhide__ = True
        self.check_can_run(what)
        before = self._tasks_before(wide)
        task = _spawn(self.loop, make(), context)
        try:
            return self._wait(task, task, what)
        finally:
            if before is not None:
                self._adopt(before)

    def _abandon(self, task: asyncio.Task[Any]) -> None:
        """Give up on a task that ignores cancellation: no more waiting, no leak report."""
        self._abandoned.add(task)
        task._log_destroy_pending = False  # type: ignore[attr-defined]
        if self.guards is not None:
            self.guards.disown(self.loop, task)

    def _tasks_before(self, wide: bool) -> Snapshot | None:
        if not wide or self.guards is None:
            return None
        return self.guards.snapshot(self.loop)

    def _adopt(self, before: Snapshot) -> None:
        if self.guards is not None:
            self.guards.adopt(self.loop, before)

    def run_test(self, coro: Coroutine[Any, Any, object], context: contextvars.Context) -> None:
        """Run a test coroutine; fail it if one of its fixtures' tasks dies meanwhile.

        Args:
            coro: The test's coroutine.
            context: The context the test runs in.

        Raises:
            FixtureCrashedError: A fixture task on this loop failed while the
                test ran; the test was cancelled.
        """
        __tracebackhide__ = True
        self.check_can_run("the test")
        task = _spawn(self.loop, coro, context)
        key = FIBER.get()
        crashed_before = len(self._crashed)
        self._test_tasks[key] = task
        try:
            self._wait(task, task, "test")
        except BaseException as exc:
            crashed = self._crashed_since(crashed_before, key)
            if crashed is not None:
                raise crashed.crash_error(_DURING_TEST) from None
            if isinstance(exc, RuntimeError) and str(exc) == _STOPPED:
                msg = (
                    "the test stopped the event loop (loop.stop()) before it finished, so it "
                    "cannot be run to the end. Do not stop the loop awaitest runs; to end a "
                    "test early, return from it or raise."
                )
                raise FixtureError(msg) from None
            raise
        finally:
            del self._test_tasks[key]
        crashed = self._crashed_since(crashed_before, key)
        if crashed is not None:
            raise crashed.crash_error(_DURING_TEST)

    def _crashed_since(self, before: int, key: object) -> FixtureLifetime | None:
        """The first fixture of test `key` whose task died since `before` crashes were seen."""
        for lifetime in self._crashed[before:]:
            if lifetime.key is key:
                return lifetime
        return None

    def start_fixture(
        self,
        make: Callable[[], AsyncGenerator[T, None]],
        context: contextvars.Context,
        name: str,
        *,
        wide: bool = False,
    ) -> FixtureLifetime:
        """Run an async-generator fixture up to its `yield`, in a task of its own.

        Args:
            make: Makes the fixture's async generator (called only if the loop
                is free to run it).
            context: The context its task runs in.
            name: The fixture's name, for messages.
            wide: It is a wider-scoped fixture (see `run`).

        Returns:
            The running fixture; `value` is what it yielded.
        """
        __tracebackhide__ = True
        self.check_can_run(f"fixture {name!r}")
        before = self._tasks_before(wide)
        lifetime = FixtureLifetime(self, make(), name)
        try:
            lifetime.start(context)
        finally:
            if before is not None:
                self._adopt(before)
        return lifetime

    def _fixture_crashed(self, lifetime: FixtureLifetime) -> None:
        self._crashed.append(lifetime)
        test = self._test_tasks.get(lifetime.key)
        if test is not None and not test.done():
            test.cancel(f"fixture {lifetime.name!r} failed")

    def close(self) -> None:
        """Cancel leftover tasks, finish async generators and the executor, close the loop."""
        loop = self.loop
        if loop.is_closed():
            return
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in [t for t in pending if t in self._abandoned]:
                task.cancel()  # once more, but not waited for again
                pending.remove(task)
            if pending:
                cancel_and_wait(loop, pending)
            if getattr(loop, "_ready", True):
                # Callbacks still queued (a transport's connection_lost after close()) run
                # now: a socket closed only by the garbage collector warns in another test.
                loop.run_until_complete(asyncio.sleep(0))
            if getattr(loop, "_asyncgens", True):
                loop.run_until_complete(loop.shutdown_asyncgens())
            if getattr(loop, "_default_executor", True) is not None:
                loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            self.factory.close(loop)


class FixtureLifetime:
    """An async-generator fixture running in its own task from setup to teardown.

    The task runs the generator up to `yield`, then waits for `finish`; its
    teardown therefore runs in the same task and context as its setup. If the
    task is cancelled while waiting (a task group's child failed, a timeout
    held across `yield` expired), the cancellation is thrown into the
    generator at its `yield` so the fixture's own `async with` blocks see it.
    """

    def __init__(self, runner: LoopRunner, agen: AsyncGenerator[Any, None], name: str) -> None:
        self.runner = runner
        self.name = name
        #: The concurrent test it was set up for (None: tests run one by one).
        self.key: object = FIBER.get()
        self.value: Any = None
        self.context: contextvars.Context | None = None
        self._agen = agen
        self._reported = False
        # Set by finish(). Not derivable from `_release`: cancelling the task while it
        # waits on `_release` cancels that future too.
        self._released = False
        loop = runner.loop
        self._setup_done: asyncio.Future[Any] = loop.create_future()
        self._release: asyncio.Future[None] = loop.create_future()
        self._task: asyncio.Task[None] | None = None

    def start(self, context: contextvars.Context) -> None:
        """Run the fixture's setup; raise what it raised."""
        __tracebackhide__ = True
        task = _spawn(self.runner.loop, self._drive(), context)
        self._task = task
        task.add_done_callback(self._on_done)
        self.value = self.runner._wait(
            self._setup_done, task, f"setup of fixture {self.name!r}", self._agen
        )

    async def _drive(self) -> None:
        agen, setup_done = self._agen, self._setup_done
        try:
            value = await agen.__anext__()
        except StopAsyncIteration:
            msg = (
                f"fixture {self.name!r} did not yield a value; "
                "an async generator fixture must yield once."
            )
            setup_done.set_exception(FixtureError(msg))
            return
        except asyncio.CancelledError:
            setup_done.cancel()
            raise
        except BaseException as exc:
            setup_done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.context = contextvars.copy_context()
        setup_done.set_result(value)
        try:
            await self._release
        except asyncio.CancelledError as exc:
            # Cancelled while the test was using the fixture, by something the fixture
            # holds across its yield: deliver it there.
            try:
                await agen.athrow(exc)
            except StopAsyncIteration:
                return
            await self._yielded_again()
            return
        try:
            await agen.__anext__()
        except StopAsyncIteration:
            return
        await self._yielded_again()

    async def _yielded_again(self) -> None:
        await self._agen.aclose()
        msg = (
            f"fixture {self.name!r} yielded more than once; "
            "an async generator fixture must yield exactly once."
        )
        raise FixtureError(msg)

    def _on_done(self, task: asyncio.Task[None]) -> None:
        ended_early = self._setup_done.done() and not self._released
        if ended_early and (task.cancelled() or task.exception() is not None):
            self.runner._fixture_crashed(self)

    def crash_error(self, when: str) -> FixtureCrashedError:
        """Return the error reported when this fixture's task died before its teardown.

        The fixture's own traceback is part of the message rather than the
        error's `__cause__`: pytest renders an exception group met as a cause
        with the wrong traceback, and a task group is the usual culprit here.
        """
        self._reported = True
        assert self._task is not None
        cause: BaseException | None
        if self._task.cancelled():
            cause, what, trace = None, "its task was cancelled", ""
        else:
            cause = self._task.exception()
            assert cause is not None
            what = f"it raised {type(cause).__name__}" + (f": {cause}" if str(cause) else "")
            tb = cause.__traceback__
            while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
                tb = tb.tb_next  # start at the fixture's code, not awaitest's
            trace = "".join(traceback.format_exception(type(cause), cause, tb)).rstrip()
        msg = (
            f"fixture {self.name!r} failed {when}: {what}. "
            "The fixture's traceback is below; fix the fixture's "
            "background work (a task group or timeout held across its yield)."
        )
        if trace:
            msg = f"{msg}\n{trace}"
        error = FixtureCrashedError(msg)
        error.fixture_exception = cause
        return error

    def finish(self) -> None:
        """Run the fixture's teardown, in its own task; raise what it raised."""
        __tracebackhide__ = True
        task = self._task
        assert task is not None
        if task.done():
            failed = task.cancelled() or task.exception() is not None
            if failed and not self._reported:
                raise self.crash_error("before its teardown")
            return
        self.runner.check_can_run(f"teardown of fixture {self.name!r}")
        self._released = True
        self._release.set_result(None)
        self.runner._wait(task, task, f"teardown of fixture {self.name!r}", self._agen)
