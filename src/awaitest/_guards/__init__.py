"""The guards: classic async-test mistakes, found and reported against the test.

`Guards` is the session's single entry point. The plugin opens a phase on
its `recorder` around each test's setup, call and teardown; `LoopRunner`
calls `attach` for each new loop, `enter`/`leave` around each drive of the
loop and `adopt` after a wider-scoped fixture's setup; the session checks a
loop for leaked tasks and open resources with `check` after a test's
fixtures are torn down. What each guard looks for is in its own module.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from .._runner import cancel_and_wait
from .._watchdog import Watchdog
from . import resources
from .blocking import BlockingWatch, BusyProbe, attach
from .coroutines import NeverAwaited
from .findings import Finding, Recorder, summary
from .policy import Guard, GuardPolicy, Level
from .tasks import ExceptionHandler, describe_leak, pending_tasks

__all__ = ["Finding", "Guard", "GuardPolicy", "Guards", "Level", "Snapshot", "summary"]

#: Loop iterations a test's tasks get to finish on their own before they count as leaked.
_SETTLE_ITERATIONS = 4


class Snapshot:
    """What a loop had before a test used it: tasks and open resources."""

    __slots__ = ("resources", "tasks")

    def __init__(self, tasks: set[asyncio.Task[Any]], open_resources: set[Any]) -> None:
        self.tasks = tasks
        self.resources = open_resources


EMPTY: Snapshot = Snapshot(set(), set())


class Guards:
    """Every guard, for one session."""

    def __init__(self, policy: GuardPolicy, threshold: float, watchdog: Watchdog) -> None:
        self.recorder = Recorder(policy)
        self._never_awaited = NeverAwaited(self.recorder)
        self._handler = ExceptionHandler(self.recorder)
        self.blocking = BlockingWatch(self.recorder, threshold)
        self._watchdog = watchdog
        self._probes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, BusyProbe] = (
            weakref.WeakKeyDictionary()
        )
        #: Tasks and resources wider-scoped fixtures opened, per loop: never a test's leak.
        self._wide: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, weakref.WeakSet[Any]] = (
            weakref.WeakKeyDictionary()
        )
        #: While tests run concurrently: the tasks on a loop the current test answers for
        #: (None from it, or no source: all the loop's tasks).
        self.task_source: (
            Callable[[asyncio.AbstractEventLoop], Iterable[asyncio.Task[Any]] | None] | None
        ) = None
        self._started = False

    def start(self) -> None:
        """Install the session-wide hooks (never-awaited coroutines, the blocking tick)."""
        self._never_awaited.install(
            track_origins=self.recorder.session_policy.enabled(Guard.NEVER_AWAITED)
        )
        self._watchdog.set_tick(self.blocking.interval, self.blocking.tick)
        self.blocking.install()
        self._started = True

    def excuse(self, exc: BaseException) -> None:
        """A phase failed with `exc`: coroutines its traceback holds are not new findings."""
        self._never_awaited.excuse(exc)

    @property
    def late_findings(self) -> list[str]:
        """Never-awaited coroutines freed outside any test, for the end-of-run summary."""
        return self._never_awaited.late

    def stop(self) -> None:
        """Undo `start`."""
        if self._started:
            self._never_awaited.uninstall()
            self._watchdog.set_tick(0, None)
            self.blocking.uninstall()
            self._started = False

    # -- called by the runner -----------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Watch a new loop: its exception handler, and a probe for blocking."""
        loop.set_exception_handler(self._handler)
        probe = attach(loop)
        if probe is not None:
            self._probes[loop] = probe

    def enter(self, loop: asyncio.AbstractEventLoop) -> BusyProbe | None:
        """The test thread starts running `loop`; return what `leave` needs."""
        previous = self.blocking.active
        self.blocking.active = self._probes.get(loop)
        return previous

    def leave(self, loop: asyncio.AbstractEventLoop, previous: BusyProbe | None) -> None:
        """The test thread stopped running `loop`."""
        probe = self._probes.get(loop)
        if probe is not None:
            probe.busy_since = None
        self.blocking.active = previous

    def adopt(self, loop: asyncio.AbstractEventLoop, before: Snapshot) -> None:
        """Mark what was opened since `before` as owned by a wider-scoped fixture."""
        after = self.snapshot(loop)
        new = (after.tasks - before.tasks) | (after.resources - before.resources)
        if new:
            self._wide.setdefault(loop, weakref.WeakSet()).update(new)

    def reattach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Put back the exception handler a test replaced on a loop later tests share."""
        if not loop.is_closed() and loop.get_exception_handler() is not self._handler:
            loop.set_exception_handler(self._handler)

    def disown(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        """Never report `task` as leaked (awaitest gave up on it and said so)."""
        self._wide.setdefault(loop, weakref.WeakSet()).add(task)

    # -- called by the session ----------------------------------------------------

    def snapshot(self, loop: asyncio.AbstractEventLoop, *, shared: bool = False) -> Snapshot:
        """Record what the loop has before a test starts using it.

        For a check with `shared=True`, which leaves open resources alone,
        only the tasks.
        """
        found = set() if shared else resources.open_resources(loop)
        return Snapshot(self._pending(loop), found)

    def _pending(self, loop: asyncio.AbstractEventLoop) -> set[asyncio.Task[Any]]:
        """The loop's unfinished tasks the running test answers for."""
        source = self.task_source
        tasks = source(loop) if source is not None else None
        return pending_tasks(loop) if tasks is None else {t for t in tasks if not t.done()}

    def _leaked(
        self, loop: asyncio.AbstractEventLoop, before: Snapshot, wide: Any
    ) -> list[asyncio.Task[Any]]:
        """Tasks started since `before` and still pending, not a wide fixture's.

        A task that is about to end (a server's connection handler that has yet
        to read the EOF of a client closed in teardown) gets a few loop
        iterations to do so: only tasks still pending after them are leaks.
        """
        leaked: list[asyncio.Task[Any]] = []
        for _ in range(_SETTLE_ITERATIONS):
            leaked = [t for t in self._pending(loop) - before.tasks if t not in wide]
            if not leaked:
                break
            loop.run_until_complete(asyncio.sleep(0))
        return leaked

    def check(
        self, loop: asyncio.AbstractEventLoop, before: Snapshot = EMPTY, *, shared: bool = False
    ) -> None:
        """Report what a test left on `loop` since `before`; clean up what is the test's.

        Call it after the test's own fixtures are torn down, before the loop closes.
        Leftover tasks are reported and cancelled. Open transports are reported
        and aborted on the test's own loop only: on a loop `shared` with wider
        fixtures, a connection opened during the test may be a pool's.
        """
        if loop.is_closed() or loop.is_running():
            return
        recorder = self.recorder
        wide = self._wide.get(loop, ())
        if recorder.wants(Guard.LEAKED_TASKS):
            leaked = self._leaked(loop, before, wide)
            if leaked:
                leaked.sort(key=lambda t: t.get_name())
                recorder.add(Guard.LEAKED_TASKS, describe_leak(leaked))
                cancel_and_wait(loop, leaked)
        if recorder.wants(Guard.UNCLOSED) and not shared:
            left = resources.open_resources(loop) - before.resources
            if left:
                gc.collect()  # unreachable generators and transports are not leaks: free them
                left = resources.open_resources(loop) - before.resources
            left = {r for r in left if r not in wide}
            if left:
                recorder.add(Guard.UNCLOSED, resources.describe_unclosed(left))
                resources.close(left)
                loop.run_until_complete(asyncio.sleep(0))  # aborted transports close their sockets
