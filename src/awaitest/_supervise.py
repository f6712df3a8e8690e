"""The pytest side of guards and timeouts: phases, per-test policy, reports.

A plugin object registered by `plugin.pytest_configure`. Around each test's
setup, call and teardown it opens a guard phase and a deadline, and
afterwards turns what the guards found into a failure (an error in setup or
teardown) or `AwaitestWarning`s attributed to the test. When pytest-timeout
is active it hands awaitest the async tests' timeouts through its hooks.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Generator
from typing import Any, Final

import pytest

from . import _compat
from ._collect import Kind
from ._compat import pytest_timeout as _pytest_timeout
from ._config import MarkerOptions
from ._errors import AwaitestWarning, ConfigError, DeadlineError
from ._guards import EMPTY, Guard, GuardPolicy, Guards, Snapshot, summary
from ._plan import Node, marker_options
from ._session import State
from ._timeouts import Timeouts

#: The timeout pytest-timeout handed over for an async test, and where it came from.
_HANDED_OVER: Final = pytest.StashKey[tuple[float, str]]()
_WHAT: Final = {"setup": "setup", "call": "test", "teardown": "teardown"}


class Supervision:
    """Guard phases and deadlines around every test."""

    def __init__(
        self, state: State, guards: Guards, timeouts: Timeouts, config: pytest.Config
    ) -> None:
        self.state = state
        self.guards = guards
        self.timeouts = timeouts
        self._timeout_plugin = config.pluginmanager.has_plugin(_pytest_timeout.PLUGIN_NAME)

    def _options(self, item: pytest.Item) -> MarkerOptions:
        try:
            return marker_options(item)
        except Exception:  # a marker error: reported by the plan as the test's setup error
            return MarkerOptions()

    def _policy(self, item: pytest.Item, options: MarkerOptions) -> GuardPolicy:
        try:
            return options.policy(self.state.settings.guards)
        except ConfigError:  # reported by the plan
            return self.state.settings.guards

    def _timeout(self, item: pytest.Item, options: MarkerOptions) -> tuple[float | None, str]:
        __tracebackhide__ = True
        if options.timeout is not None:
            return options.timeout, "@pytest.mark.awaitest(timeout=...)"
        handed = item.stash.get(_HANDED_OVER, None)
        if handed is not None:
            return handed
        try:
            marked = _pytest_timeout.marker_timeout(item)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        if marked is not None:
            return marked
        settings = self.state.settings
        if self._timeout_plugin and self.state.planner.item_plan(item).kind is Kind.SYNC:
            return None, ""  # pytest-timeout times sync tests itself
        return settings.timeout, settings.timeout_source

    def _phase(self, item: pytest.Item, when: str) -> Generator[None, object, object]:
        __tracebackhide__ = True
        options = self._options(item)
        policy = self._policy(item, options)
        seconds, source = self._timeout(item, options)
        recorder = self.guards.recorder
        recorder.begin(item.nodeid, policy)
        try:
            with self.timeouts.phase(item.nodeid, seconds, source, _WHAT[when]):
                result = yield
            if when == "call" and policy.enabled(Guard.NEVER_AWAITED):
                gc.collect(1)  # coroutines held in a reference cycle: collect young garbage
        except DeadlineError as exc:
            self._attach_findings(item, when)
            raise pytest.fail.Exception(str(exc), pytrace=False) from None
        except BaseException:
            self._attach_findings(item, when)
            raise
        errors, warns = recorder.end()
        for finding in warns:
            _warn(item, finding.message)
        if errors:
            raise pytest.fail.Exception(summary(item.nodeid, errors), pytrace=False)
        return result

    def _attach_findings(self, item: pytest.Item, when: str) -> None:
        """The phase failed anyway: show what the guards found beside the failure."""
        errors, warns = self.guards.recorder.end()
        found = errors + warns
        if found:
            item.add_report_section(when, "awaitest", summary(item.nodeid, found))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, object, object]:
        """Watch the test's setup; arrange the leak check of a loop it shares."""
        __tracebackhide__ = True
        plan = self.state.planner.item_plan(item)
        if plan.claimed and plan.owner is not item:
            runner = self.state.loops.get(plan.owner)
            baseline = self.guards.snapshot(runner.loop) if runner is not None else EMPTY
            _compat.after_item_teardown(item, lambda: self._check_shared(plan.owner, baseline))
        if plan.kind is Kind.SYNC:
            self._check_sync_marker(item)
        return (yield from self._phase(item, "setup"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        """Watch the test itself."""
        __tracebackhide__ = True
        return (yield from self._phase(item, "call"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, object, object]:
        """Watch the test's teardown, where leaked tasks and open resources are found."""
        __tracebackhide__ = True
        return (yield from self._phase(item, "teardown"))

    def _check_shared(self, owner: Node, baseline: Snapshot) -> None:
        runner = self.state.loops.get(owner)
        if runner is not None:
            self.guards.check(runner.loop, baseline)

    def _check_sync_marker(self, item: pytest.Item) -> None:
        own = [m for m in getattr(item, "own_markers", ()) if m.name == "awaitest"]
        if not own:
            return
        options = self._options(item)
        if own[0].args or options.loop_keys or not (own[0].kwargs):
            msg = (
                "is marked @pytest.mark.awaitest but is a sync function, so there is nothing "
                "for awaitest to run. Make the test 'async def', or remove the marker."
            )
            self.guards.recorder.begin(item.nodeid, self._policy(item, options))
            self.guards.recorder.add(Guard.MISUSE, msg)

    # -- pytest-timeout ---------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_timeout_set_timer(self, item: pytest.Item, settings: Any) -> bool | None:
        """Take over pytest-timeout's timer for async tests: cancel them, don't kill."""
        if not self.state.planner.item_plan(item).claimed:
            return None
        item.stash[_HANDED_OVER] = (float(settings.timeout), "pytest-timeout's timeout")
        return True

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_timeout_cancel_timer(self, item: pytest.Item) -> bool | None:
        """Nothing to cancel for the async tests awaitest times itself."""
        return True if _HANDED_OVER in item.stash else None


def _warn(item: pytest.Item, message: str) -> None:
    path, line, _name = item.location
    warnings.warn_explicit(
        AwaitestWarning(f"{item.nodeid}: {message}"),
        AwaitestWarning,
        filename=str(item.path),
        lineno=(line or 0) + 1,
        module=path,
    )
