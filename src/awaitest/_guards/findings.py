"""What the guards found during one phase of one test.

Guards report into the session's `Recorder` from wherever they notice a
mistake: a coroutine finalizer, the loop's exception handler, the watchdog
thread, a loop being closed. The plugin opens a phase before a test's setup,
call and teardown and closes it afterwards, turning what was found into a
failure or warnings according to the test's `GuardPolicy`. Nothing here
imports pytest.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from .policy import Guard, GuardPolicy, Level


@dataclasses.dataclass(frozen=True)
class Finding:
    """One mistake a guard found.

    Attributes:
        guard: The guard that found it.
        message: What to tell the user: the culprit, what happened, the fix.
    """

    guard: Guard
    message: str


class PhaseRecord:
    """The findings of one phase: whose, under which policy, and what was found."""

    __slots__ = ("found", "policy", "who")

    def __init__(self, who: str | None, policy: GuardPolicy, found: list[Finding]) -> None:
        self.who = who
        self.policy = policy
        self.found = found


class Recorder:
    """Collects findings for the phase that is running, if any.

    One phase runs at a time, except when tests run concurrently: then each
    has its own `record` (swapped in while its pytest protocol runs) and
    `route` finds the record of the test whose task is running right now.
    """

    def __init__(self, policy: GuardPolicy) -> None:
        self.session_policy = policy
        #: The running phase (who=None between tests).
        self.record = PhaseRecord(None, policy, [])
        #: Finds the record of the concurrent test running now, or the one a task or
        #: callback (`about`) belongs to, if any (set while concurrent tests run).
        self.route: Callable[[object], PhaseRecord | None] | None = None
        self._lock = threading.Lock()  # the watchdog thread reports too

    def current(self, about: object = None) -> PhaseRecord:
        """The record findings made now (about a task or callback, if given) go to."""
        route = self.route
        if route is not None:
            record = route(about)
            if record is not None:
                return record
        return self.record

    @property
    def who(self) -> str | None:
        """The test (node id) whose phase is running, or None between tests."""
        return self.current().who

    @property
    def policy(self) -> GuardPolicy:
        """The policy of the test whose phase is running (the session's between tests)."""
        return self.current().policy

    def begin(self, who: str, policy: GuardPolicy) -> None:
        """Start collecting for a phase of `who`, under its policy."""
        self.record = PhaseRecord(who, policy, self.record.found)

    def who_of(self, about: object) -> str | None:
        """The test whose phase a finding about a task or callback goes to, if any."""
        return self.current(about).who

    def wants(self, guard: Guard, about: object = None) -> bool:
        """Whether the guard is on for the phase running now."""
        return self.current(about).policy.enabled(guard)

    def add(self, guard: Guard, message: str, about: object = None) -> None:
        """Record a finding, if the guard is on for the phase running now.

        `about` is the task or callback the finding is about, if it is one:
        when tests run concurrently, the finding goes to the test it belongs to.
        """
        record = self.current(about)
        if record.policy.enabled(guard):
            with self._lock:
                record.found.append(Finding(guard, message))

    def end(self) -> tuple[list[Finding], list[Finding]]:
        """Stop collecting; return the phase's findings as (errors, warnings)."""
        record = self.record
        self.record = PhaseRecord(None, self.session_policy, [])
        with self._lock:
            if not record.found:
                return [], []
            found = list(record.found)
            record.found.clear()
        policy = record.policy
        errors = [f for f in found if policy.level(f.guard) is Level.ERROR]
        warns = [f for f in found if policy.level(f.guard) is Level.WARN]
        return errors, warns


def summary(who: str, errors: list[Finding]) -> str:
    """Return the failure message for a phase's error findings."""
    if len(errors) == 1:
        return f"{who}: {errors[0].message}"
    parts = [f"{who}: awaitest found {len(errors)} problems:"]
    parts.extend(f"{n}. {f.message}" for n, f in enumerate(errors, 1))
    return "\n".join(parts)
