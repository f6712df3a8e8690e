"""Which concurrent test a task, a callback or the running code works for.

Concurrent tests share one loop, so "the running test" is not enough to
file a crashed task, a leaked one or a printed line: each test's code runs
in a context where `FIBER` is that test's fiber, and the group's task
factory stamps every task with the fiber it was started for (`_OwnedTask`)
and keeps it in that fiber's task set. A task started for no test (by a
wider fixture, say) is everyone's to answer for.
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from collections.abc import Iterable
from typing import Any

from . import FIBER
from .fibers import Fiber, Scheduler


class _OwnedTask(asyncio.Task):  # type: ignore[type-arg]
    """A task that knows which concurrent test it works for.

    Kept on the task itself: a weak mapping forgets a task the garbage
    collector is destroying before asyncio reports it destroyed while pending.
    """

    awaitest_fiber: Fiber | None = None


def task_owner(task: object) -> Fiber | None:
    """The concurrent test a task was started for, if any."""
    owner: Fiber | None = getattr(task, "awaitest_fiber", None)
    return owner


def concerns(task: asyncio.Task[Any], fiber: Fiber | None) -> bool:
    """Whether a task is `fiber`'s test's to answer for (a task of no test is everyone's)."""
    owner = task_owner(task)
    return owner is None or owner is fiber


class Owners:
    """Tells the tests of one scheduler apart on their shared loop.

    Args:
        scheduler: The scheduler whose fibers run the tests.
    """

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.loop = scheduler.loop
        #: Tasks the task factory started for no test (`Fiber.tasks`: for one).
        self._unowned: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

    def track(self) -> bool:
        """Install the task factory, unless the loop has one; return whether it did."""
        if self.loop.get_task_factory() is not None:
            return False  # the test's own factory: tasks are told apart by scanning
        self.loop.set_task_factory(self._task_factory)
        return True

    def untrack(self) -> None:
        """Undo `track`."""
        if not self.loop.is_closed():
            self.loop.set_task_factory(None)

    def _task_factory(
        self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        task = _OwnedTask(coro, loop=loop, **kwargs)
        context = kwargs.get("context")
        fiber = context.get(FIBER) if context is not None else FIBER.get()
        task.awaitest_fiber = fiber
        (self._unowned if fiber is None else fiber.tasks).add(task)
        return task

    def tasks_in_view(self, loop: asyncio.AbstractEventLoop) -> Iterable[asyncio.Task[Any]] | None:
        """The tasks on `loop` the running test answers for: its own and those of no test.

        None (all the loop's tasks) for another loop; filtered from all the
        loop's tasks if a task factory of the tests' own replaced the tracking one.
        """
        if loop is not self.loop:
            return None
        fiber = FIBER.get()
        if loop.get_task_factory() != self._task_factory:
            return [t for t in asyncio.all_tasks(loop) if concerns(t, fiber)]
        if fiber is None:
            return self._unowned
        return itertools.chain(fiber.tasks, self._unowned)

    def owner(self, about: object = None) -> Fiber | None:
        """The test the running code (or a task, or a callback's handle) works for.

        By what `about` carries, else by the context of the running code,
        else by the task the loop runs.
        """
        fiber: Fiber | None = None
        if isinstance(about, asyncio.Future):
            fiber = task_owner(about)
        elif about is not None:
            context = getattr(about, "_context", None)  # a callback's asyncio.Handle
            fiber = context.get(FIBER) if context is not None else None
        if fiber is None:
            fiber = FIBER.get()
        if fiber is None:
            loop = self.loop
            task = asyncio.current_task(loop) if not loop.is_closed() else None
            fiber = task_owner(task) if task is not None else None
        return fiber if fiber is not None and fiber.scheduler is self.scheduler else None
