"""Guard 5: sync code that holds the event loop longer than a threshold.

Each loop awaitest creates gets its selector wrapped in a `BusyProbe`,
which notes when the loop stopped waiting for I/O and started running
callbacks. The watchdog thread ticks a few times per threshold; when the
loop driven right now has been busy past the threshold, it samples the test
thread's stack and records the innermost line of user code: the blocking
call itself, not just "a slow callback". To keep a loaded machine from
crying wolf, a report needs two samples in a row at the same line, a tick
that itself ran late (the process was not scheduled) reports nothing,
garbage-collection pauses do not count as busy time (no line of the test
caused them; a full collection of a large heap takes 50-300 ms), and a
thread importing a module is not reported (a one-time cost).
Loops without a selector (uvloop) are not watched.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
from typing import Any

from .. import _stacks
from .findings import Recorder
from .policy import Guard


class BusyProbe:
    """A selector proxy noting since when the loop has been running callbacks.

    No __slots__: the virtual clock wraps `select` with an instance attribute.
    """

    def __init__(self, selector: Any) -> None:
        self._selector = selector
        self.busy_since: float | None = None
        self.reported: float | None = None

    def select(self, timeout: float | None = None) -> Any:
        """Wait for I/O as the real selector does; note when waiting ends."""
        self.busy_since = None
        try:
            return self._selector.select(timeout)
        finally:
            self.busy_since = time.perf_counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._selector, name)


def attach(loop: asyncio.AbstractEventLoop) -> BusyProbe | None:
    """Wrap the loop's selector in a probe; None if it has no selector."""
    selector = getattr(loop, "_selector", None)
    if selector is None:
        return None
    probe = BusyProbe(selector)
    loop._selector = probe  # type: ignore[attr-defined]
    return probe


class BlockingWatch:
    """Samples the loop being driven from the watchdog thread."""

    def __init__(self, recorder: Recorder, threshold: float) -> None:
        self._recorder = recorder
        self.threshold = threshold
        #: The probe of the loop the test thread is running now, if any.
        self.active: BusyProbe | None = None
        self._main = threading.main_thread()
        self._interval = max(threshold / 2, 0.01)
        self._expected = 0.0  # when the next tick should come
        self._suspect: tuple[float, object] | None = None  # (episode, site) seen once
        self._gc_started: float | None = None

    def install(self) -> None:
        """Start leaving garbage-collection pauses out of the busy time."""
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)

    def uninstall(self) -> None:
        """Undo `install`."""
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        """Move the busy episode's start past a collection (runs with the GIL held)."""
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        started, self._gc_started = self._gc_started, None
        probe = self.active
        since = probe.busy_since if probe is not None else None
        if started is not None and probe is not None and since is not None:
            probe.busy_since = since + (time.perf_counter() - started)

    @property
    def interval(self) -> float:
        """How often the watchdog should tick."""
        return self._interval

    def tick(self) -> None:
        """Check the active loop (called in the watchdog thread)."""
        now = time.perf_counter()
        late = self._expected and now - self._expected > self._interval
        self._expected = now + self._interval
        probe = self.active
        if probe is None or late:
            self._suspect = None  # starved: wall time says nothing about the loop
            return
        since = probe.busy_since
        if since is None or probe.reported == since:
            return
        if now - since < self.threshold or not self._recorder.wants(Guard.BLOCKING):
            return
        frame = sys._current_frames().get(self._main.ident or 0)
        if probe.busy_since != since or frame is None:
            return  # it moved on while we looked
        sites = _stacks.frame_sites(frame)
        if any(site.filename.startswith("<frozen importlib") for site in sites):
            self._suspect = None  # importing a module: a one-time cost, not a blocking call
            return
        site = _stacks.first_user_site(sites)
        if self._suspect != (since, site):
            self._suspect = (since, site)  # report when the next tick finds it there still
            return
        probe.reported = since
        where = site.describe() if site is not None else "(no user code on the stack)"
        msg = (
            f"blocked the event loop for more than {self.threshold:g} s at {where}\n"
            "Nothing else on the loop runs meanwhile (timeouts, I/O, other tasks). Await an "
            "async equivalent (asyncio.sleep, not time.sleep), or run the blocking call with "
            "'await asyncio.to_thread(...)'. The threshold is awaitest_blocking_threshold."
        )
        self._recorder.add(Guard.BLOCKING, msg)
