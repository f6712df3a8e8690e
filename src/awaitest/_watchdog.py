"""A thread that watches the test thread: deadlines and a blocked event loop.

Timeouts must fire even when the test thread is stuck (in a blocking call,
or on virtual time), so they run on a real clock in a daemon thread. The
same thread samples the running event loop a few times per blocking
threshold to catch sync code that holds it. Callbacks run in the watchdog
thread and must only record facts and hand work to the test thread
(`loop.call_soon_threadsafe`, a signal). Nothing here imports pytest.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable


class Job:
    """A callback scheduled on the watchdog; `cancel()` it when no longer needed."""

    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run the callback (a no-op if it already ran)."""
        self.cancelled = True


class Watchdog:
    """One daemon thread running scheduled callbacks and a periodic tick.

    The thread starts on first use and lives for the rest of the process;
    `stop()` ends it.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._jobs: list[tuple[float, int, Job]] = []
        self._seq = itertools.count()
        self._tick: Callable[[], None] | None = None
        self._interval = 0.0
        self._thread: threading.Thread | None = None
        self._stopped = False

    def call_at(self, when: float, callback: Callable[[], None]) -> Job:
        """Run `callback` in the watchdog thread at `time.monotonic()` time `when`."""
        job = Job(when, callback)
        with self._cond:
            heapq.heappush(self._jobs, (when, next(self._seq), job))
            self._start()
            self._cond.notify()
        return job

    def call_later(self, delay: float, callback: Callable[[], None]) -> Job:
        """Run `callback` in the watchdog thread after `delay` seconds of real time."""
        return self.call_at(time.monotonic() + delay, callback)

    def set_tick(self, interval: float, tick: Callable[[], None] | None) -> None:
        """Call `tick` every `interval` seconds (None: stop ticking)."""
        with self._cond:
            self._tick, self._interval = tick, interval
            if tick is not None:
                self._start()
            self._cond.notify()

    def stop(self) -> None:
        """End the thread; pending callbacks do not run."""
        with self._cond:
            self._stopped = True
            self._jobs.clear()
            self._cond.notify()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def _start(self) -> None:
        if self._thread is None and not self._stopped:
            self._thread = threading.Thread(target=self._run, name="awaitest-watchdog", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        next_tick = time.monotonic()
        while True:
            with self._cond:
                if self._stopped:
                    return
                now = time.monotonic()
                due: list[Job] = []
                while self._jobs and self._jobs[0][0] <= now:
                    due.append(heapq.heappop(self._jobs)[2])
                tick = self._tick
                run_tick = tick is not None and now >= next_tick
                if run_tick:
                    next_tick = now + self._interval
                if not due and not run_tick:
                    wake = [self._jobs[0][0]] if self._jobs else []
                    if tick is not None:
                        wake.append(next_tick)
                    self._cond.wait(min(wake) - now if wake else None)
                    continue
            for job in due:
                if not job.cancelled:
                    job.callback()
            if run_tick and tick is not None:
                tick()
