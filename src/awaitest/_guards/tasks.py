"""Guards 2 and 3: crashed background work, and tasks left running.

`report_exception` is installed as the exception handler of every loop
awaitest creates: "Task exception was never retrieved", an exception in a
callback, anything asyncio hands its handler, is recorded against the test
phase running at that moment (a project's own handler replaces it). Leaked
tasks are found by comparing the loop's pending tasks after a test with
those it had before, less the tasks wider-scoped fixtures own.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Iterable
from typing import Any

from .. import _stacks
from .findings import Recorder
from .policy import Guard

_CRASH_FIX = (
    "Await the task (or check task.exception() in a done callback), or run it in an "
    "asyncio.TaskGroup so its failure reaches the test."
)
_DESTROYED_FIX = (
    "Keep a reference to the task and await or cancel it (an asyncio.TaskGroup does both)."
)
_LEAK_FIX = (
    "Cancel and await the tasks the test starts (an asyncio.TaskGroup does it for you), or "
    "start long-running tasks in a fixture that cancels them in its teardown."
)


def _format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()


def describe_crash(context: dict[str, Any]) -> str:
    """Return the message for an exception asyncio handed to the loop's handler."""
    exc = context.get("exception")
    future = context.get("task") or context.get("future")
    asyncio_says = context.get("message") or "an exception in the event loop"
    if isinstance(future, asyncio.Task) and exc is None and not future.done():
        created = _stacks.task_created_at(future)
        where = f", created at {created}," if created is not None else ""
        what = (
            f"task {_stacks.task_name(future)}{where} was destroyed while still pending: "
            "nothing kept a reference to it, so it never finished"
        )
        fix = _DESTROYED_FIX
    elif isinstance(future, asyncio.Task):
        created = _stacks.task_created_at(future)
        where = f", created at {created}," if created is not None else ""
        what = f"task {_stacks.task_name(future)}{where} failed and nobody retrieved its exception"
        fix = _CRASH_FIX
    else:
        callback = getattr(context.get("handle"), "_callback", None)
        code = getattr(callback, "__code__", None)
        if code is not None:
            site = _stacks.Site(code.co_filename, code.co_firstlineno, code.co_name)
            name = getattr(callback, "__qualname__", code.co_name)
            what = f"the callback {name}() (defined at {site}) failed"
        elif callback is not None:
            what = f"the callback {callback!r} failed"
        else:
            what = f"background work failed ({asyncio_says})"
        fix = "Handle the error where it happens, or let it reach the test."
    if exc is not None:
        what += f": {type(exc).__name__}" + (f": {exc}" if str(exc) else "")
        return f"{what}. {fix}\n{_format_exception(exc)}"
    return f"{what}. {fix}"


class ExceptionHandler:
    """The exception handler awaitest installs on its loops."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Record the error against the running test phase (else asyncio's default)."""
        if isinstance(context.get("exception"), (KeyboardInterrupt, SystemExit)):
            return  # it already stopped the loop and reached pytest: not lost
        recorder = self._recorder
        about = context.get("task") or context.get("future") or context.get("handle")
        if recorder.who_of(about) is not None and recorder.wants(Guard.TASK_ERRORS, about):
            recorder.add(Guard.TASK_ERRORS, describe_crash(context), about)
        else:
            loop.default_exception_handler(context)


def pending_tasks(loop: asyncio.AbstractEventLoop) -> set[asyncio.Task[Any]]:
    """The loop's tasks that have not finished."""
    return {t for t in asyncio.all_tasks(loop) if not t.done()}


def describe_leak(tasks: Iterable[asyncio.Task[Any]]) -> str:
    """Return the message for tasks a test left running."""
    tasks = list(tasks)
    count = "a task" if len(tasks) == 1 else f"{len(tasks)} tasks"
    them = "it" if len(tasks) == 1 else "them"
    lines = [f"left {count} running when it ended; awaitest cancelled {them}:"]
    lines.extend(
        "\n".join(f"  {line}" for line in _stacks.describe_task(t).splitlines()) for t in tasks
    )
    lines.append(_LEAK_FIX)
    return "\n".join(lines)
