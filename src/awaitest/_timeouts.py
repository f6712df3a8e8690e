"""Deadlines for tests and fixtures, on real time, that cancel instead of kill.

`Timeouts` gives each phase of a test (setup, call, teardown) a deadline,
restarted for every async fixture and for the test itself, so each gets the
full timeout. When a deadline passes, the watchdog thread asks the loop to
cancel the task it is driving; before cancelling, the loop records the await
stack the task was stuck in and the other pending tasks, and the runner
reports a `DeadlineError`. If the loop does not answer (the thread is stuck
in a blocking call, or no loop runs: a sync test), its stack is sampled and
a SIGALRM makes the blocking call raise. Nothing here imports pytest.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from . import _stacks
from ._errors import DeadlineError
from ._watchdog import Job, Watchdog

#: How long the loop gets to answer a cancellation, and a cancelled task to stop.
GRACE = 1.0


class _Stuck(BaseException):
    """Raised in the test thread, by a signal, to end a blocking call past its deadline.

    A BaseException so that `except Exception` in the test does not swallow it.
    """


def _format_seconds(seconds: float) -> str:
    return f"{seconds:g} s"


class _Phase:
    """One deadline-bound phase: who, how long, and what happened."""

    def __init__(self, who: str, seconds: float, source: str, what: str) -> None:
        self.who = who
        self.what = what
        self.seconds = seconds
        self.source = source
        self.job: Job | None = None
        self.drive: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any], str, object] | None = None
        self.generation = 0
        self.answered = False
        self.report: str | None = None  # set when the deadline passed
        self.live = True  # the phase has not ended


class Timeouts:
    """Deadlines for the phases of tests, enforced from the watchdog thread."""

    def __init__(self, watchdog: Watchdog) -> None:
        self._watchdog = watchdog
        #: The phase of the running test (each concurrent test has its own).
        self._phase: _Phase | None = None
        self._live: set[_Phase] = set()
        #: While tests run concurrently: whether a pending task concerns the stuck task's test.
        self.related: Callable[[asyncio.Task[Any], asyncio.Task[Any]], bool] | None = None
        self._main = threading.main_thread()
        self._can_signal = hasattr(signal, "pthread_kill") and hasattr(signal, "SIGALRM")
        self._previous_handler: Any = None

    @contextlib.contextmanager
    def phase(self, who: str, seconds: float | None, source: str, what: str) -> Iterator[None]:
        """Run a phase of `who` under a deadline of `seconds` (None or 0: none).

        Args:
            who: The test, for messages.
            seconds: The timeout.
            source: Where the timeout was set, for messages.
            what: What the phase runs when no loop does ("setup", "test", "teardown").


        Raises:
            DeadlineError: The phase was stuck in a blocking call past its deadline.
        """
        __tracebackhide__ = True
        if not seconds or seconds <= 0:
            yield
            return
        phase = _Phase(who, seconds, source, what)
        self._phase = phase
        self._live.add(phase)
        in_main = threading.current_thread() is self._main
        if in_main and self._can_signal:
            self._previous_handler = signal.signal(signal.SIGALRM, self._on_signal)
        self._arm(phase)
        try:
            yield
        except _Stuck:
            raise DeadlineError(phase.report or self._blocked_report(phase, None)) from None
        finally:
            if phase.job is not None:
                phase.job.cancel()
            phase.live = False
            self._live.discard(phase)
            self._phase = None
            if in_main and self._can_signal:
                signal.signal(signal.SIGALRM, self._previous_handler)

    @property
    def active(self) -> bool:
        """Whether the running phase has a deadline (else `driving` has nothing to do)."""
        return self._phase is not None

    @contextlib.contextmanager
    def signals_handled(self) -> Iterator[None]:
        """Handle the deadline signal in the main thread while phases run in other threads.

        Concurrent tests run their phases in threads of their own, while the
        main thread runs the loop where their code blocks.
        """
        if threading.current_thread() is not self._main or not self._can_signal:
            yield
            return
        previous = signal.signal(signal.SIGALRM, self._on_signal)
        try:
            yield
        finally:
            signal.signal(signal.SIGALRM, previous)

    def _arm(self, phase: _Phase) -> None:
        if phase.job is not None:
            phase.job.cancel()
        phase.generation += 1
        generation = phase.generation
        phase.job = self._watchdog.call_later(
            phase.seconds, lambda: self._expired(phase, generation)
        )

    @contextlib.contextmanager
    def driving(
        self,
        loop: asyncio.AbstractEventLoop,
        task: asyncio.Task[Any],
        what: str,
        root: object = None,
    ) -> Iterator[None]:
        """Let a deadline cancel `task`; each drive gets the phase's full timeout.

        `root` is where the reported await stack starts, if not at `task`.

        Raises:
            DeadlineError: The deadline passed while the task ran.
        """
        __tracebackhide__ = True
        phase = self._phase
        if phase is None:
            yield
            return
        phase.drive = (loop, task, what, root)
        self._arm(phase)
        try:
            yield
        except BaseException:
            if phase.report is not None:
                raise DeadlineError(phase.report) from None
            raise
        finally:
            phase.drive = None
        if phase.report is not None:
            raise DeadlineError(phase.report)

    # -- in the watchdog thread ---------------------------------------------------

    def _expired(self, phase: _Phase, generation: int) -> None:
        if not phase.live or phase.generation != generation or phase.report:
            return
        drive = phase.drive
        if drive is None:
            self._interrupt(phase, None)
            return
        loop = drive[0]
        try:
            loop.call_soon_threadsafe(self._cancel_in_loop, phase, generation)
        except RuntimeError:  # the loop closed meanwhile
            return
        self._watchdog.call_later(GRACE, lambda: self._unanswered(phase, generation))

    def _unanswered(self, phase: _Phase, generation: int) -> None:
        if not phase.live or phase.generation != generation:
            return
        if not phase.answered:
            self._interrupt(phase, phase.drive)
            return
        drive = phase.drive
        if drive is not None and not drive[1].done():
            # The task caught the cancellation and carried on: stop the loop instead.
            phase.report = (phase.report or "") + (
                f"\nThe {drive[2]} did not stop when cancelled (it caught CancelledError); "
                "awaitest stopped the loop."
            )
            with contextlib.suppress(RuntimeError):
                drive[0].call_soon_threadsafe(drive[0].stop)

    def _interrupt(self, phase: _Phase, drive: Any) -> None:
        """The test thread does not answer: sample its stack, then signal it."""
        frame = sys._current_frames().get(self._main.ident or 0)
        phase.report = self._blocked_report(phase, frame, drive)
        if self._can_signal and self._main.ident is not None:
            signal.pthread_kill(self._main.ident, signal.SIGALRM)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if any(phase.report is not None for phase in list(self._live)):
            raise _Stuck

    # -- in the loop ----------------------------------------------------------------

    def _cancel_in_loop(self, phase: _Phase, generation: int) -> None:
        if not phase.live or phase.generation != generation:
            return
        phase.answered = True
        drive = phase.drive
        if drive is None:
            return
        loop, task, what, root = drive
        if task.done():
            return
        stuck = _stacks.format_sites(_stacks.await_chain(root or task), indent="  ")
        related = self.related
        others = [
            t
            for t in asyncio.all_tasks(loop)
            if t is not task
            and not t.done()
            and not _stacks.is_own_task(t)
            and (related is None or related(task, t))
        ]
        lines = [
            f"{phase.who}: the {what} timed out after {_format_seconds(phase.seconds)} "
            f"({phase.source}); awaitest cancelled it while it was waiting at:",
            stuck or "  (no await stack: the task had not started)",
        ]
        if others:
            lines.append(f"Other pending tasks ({len(others)}):")
            lines.extend(_indent(_stacks.describe_task(t)) for t in others[:10])
            if len(others) > 10:
                lines.append(f"  ... and {len(others) - 10} more")
        lines.append(_FIX)
        phase.report = "\n".join(lines)
        task.cancel(f"awaitest: timed out after {_format_seconds(phase.seconds)}")

    def _blocked_report(self, phase: _Phase, frame: FrameType | None, drive: Any = None) -> str:
        sites = _stacks.frame_sites(frame)
        where = _stacks.format_sites(reversed(sites), indent="  ") if sites else "  (unknown)"
        limit = f"{_format_seconds(phase.seconds)} ({phase.source})"
        head = f"{phase.who}: the {{what}} timed out after {limit}"
        if drive is None:
            return (
                f"{head.format(what=phase.what)}; it was at:\n{where}\n"
                f"awaitest interrupted it with a signal. {_FIX}"
            )
        return (
            f"{head.format(what=drive[2])} while blocked in a sync call, which cannot be "
            f"cancelled; the thread was at:\n{where}\n"
            "awaitest interrupted the call with a signal. Blocking calls stop the event loop: "
            "await an async equivalent, or use 'await asyncio.to_thread(...)'."
        )


_FIX = (
    "Find what it waits for that never happens (an event never set, a server never "
    "answering), or give it more time with @pytest.mark.timeout(N) or awaitest_timeout."
)


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())
