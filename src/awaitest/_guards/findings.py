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


class Recorder:
    """Collects findings for the phase that is running, if any."""

    def __init__(self, policy: GuardPolicy) -> None:
        self.session_policy = policy
        #: The policy of the test whose phase is running (the session's between tests).
        self.policy = policy
        #: The test (node id) whose phase is running, or None between tests.
        self.who: str | None = None
        self._found: list[Finding] = []
        self._lock = threading.Lock()  # the watchdog thread reports too

    def begin(self, who: str, policy: GuardPolicy) -> None:
        """Start collecting for a phase of `who`, under its policy."""
        self.who = who
        self.policy = policy

    def wants(self, guard: Guard) -> bool:
        """Whether the guard is on for the phase running now."""
        return self.policy.enabled(guard)

    def add(self, guard: Guard, message: str) -> None:
        """Record a finding, if the guard is on for the phase running now."""
        if self.policy.enabled(guard):
            with self._lock:
                self._found.append(Finding(guard, message))

    def end(self) -> tuple[list[Finding], list[Finding]]:
        """Stop collecting; return the phase's findings as (errors, warnings)."""
        with self._lock:
            found, self._found = self._found, []
        policy = self.policy
        self.who = None
        self.policy = self.session_policy
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
