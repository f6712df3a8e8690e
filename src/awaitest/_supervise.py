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
from typing import Any, Final, NamedTuple

import pytest

from . import _compat, _loops
from ._collect import Kind
from ._compat import pytest_asyncio as _pytest_asyncio
from ._compat import pytest_timeout as _pytest_timeout
from ._config import MarkerOptions
from ._errors import AwaitestWarning, ConfigError, DeadlineError
from ._guards import EMPTY, Guard, GuardPolicy, Guards, Snapshot, summary
from ._plan import Node
from ._session import State
from ._timeouts import Timeouts

#: The timeout pytest-timeout handed over for an async test, and where it came from.
_HANDED_OVER: Final = pytest.StashKey[tuple[float, str]]()
#: Where a session timeout set with awaitest's own names comes from.
_AWAITEST_SOURCES: Final = ("--awaitest-timeout", "the awaitest_timeout ini key")


class _ItemConfig(NamedTuple):
    policy: GuardPolicy
    seconds: float | None
    source: str
    error: str | None  # a bad timeout marker


_CONFIG: Final = pytest.StashKey[_ItemConfig]()
_POLICY: Final = pytest.StashKey[object]()
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
        #: The last test whose config was asked for, and that config: its three phases
        #: ask in a row (pytest's stash costs two Python calls a lookup).
        self._last: tuple[pytest.Item | None, _ItemConfig | None] = (None, None)

    def _options(self, item: pytest.Item) -> MarkerOptions:
        return self.state.planner.item_plan(item).options

    def _config(self, item: pytest.Item) -> _ItemConfig:
        """The test's guard policy and timeout, worked out once per test."""
        last_item, config = self._last
        if last_item is item and config is not None:
            return config
        config = item.stash.get(_CONFIG, None)
        if config is None:
            options = self._options(item)
            try:
                seconds, source = self._timeout(item, options)
                error = None
            except ConfigError as exc:  # a bad @pytest.mark.timeout: the test's setup error
                seconds, source, error = None, "", str(exc)
            config = _ItemConfig(self._policy(options), seconds, source, error)
            item.stash[_CONFIG] = config
        self._last = (item, config)
        return config

    def _policy(self, options: MarkerOptions) -> GuardPolicy:
        try:
            return options.policy(self.state.settings.guards)
        except ConfigError:  # reported by the plan
            return self.state.settings.guards

    def _timeout(self, item: pytest.Item, options: MarkerOptions) -> tuple[float | None, str]:
        """The test's timeout: markers first, then awaitest's settings, then pytest-timeout's.

        Raises:
            ConfigError: The `timeout` marker's value is not a number of seconds.
        """
        if options.timeout is not None:
            return options.timeout, "@pytest.mark.awaitest(timeout=...)"
        marked = _pytest_timeout.marker_timeout(item)
        if marked is not None:
            return marked
        settings = self.state.settings
        handed = item.stash.get(_HANDED_OVER, None)
        if handed is not None:
            # pytest-timeout resolved its own names; awaitest's beat them at the same level.
            if item.get_closest_marker(_pytest_timeout.MARKER) is not None:
                return handed
            source = settings.timeout_source
            if source == _AWAITEST_SOURCES[0] or (
                source == _AWAITEST_SOURCES[1] and not _pytest_timeout.command_line_set(item.config)
            ):
                return settings.timeout, source
            return handed
        if self._timeout_plugin and self.state.planner.item_plan(item).kind is Kind.SYNC:
            return None, ""  # pytest-timeout times sync tests itself
        return settings.timeout, settings.timeout_source

    def _phase(self, item: pytest.Item, when: str) -> Generator[None, object, object]:
        # Hidden from tracebacks, but for awaitest's own failures (message only): pytest
        # adds a "traceback entries are hidden" note when every frame is hidden.
        __tracebackhide__ = _hide_unless_own_failure
        policy, seconds, source, _error = self._config(item)
        recorder = self.guards.recorder
        who = item.nodeid
        recorder.begin(who, policy)
        try:
            if seconds is not None and seconds > 0:
                with self.timeouts.phase(who, seconds, source, _WHAT[when]):
                    result = yield
            else:
                result = yield  # no deadline: no phase to open (Timeouts.phase would do nothing)
            if when == "call" and policy.enabled(Guard.NEVER_AWAITED):
                gc.collect(1)  # coroutines held in a reference cycle: collect young garbage
        except DeadlineError as exc:
            self._attach_findings(item, when)
            raise pytest.fail.Exception(str(exc), pytrace=False) from None
        except BaseException as exc:
            self._attach_findings(item, when)
            self.guards.excuse(exc)
            raise
        errors, warns = recorder.end()
        for finding in warns:
            _warn(item, finding.message)
        if errors:
            raise pytest.fail.Exception(summary(who, errors), pytrace=False)
        return result

    def _attach_findings(self, item: pytest.Item, when: str) -> None:
        """The phase failed anyway: show what the guards found beside the failure."""
        errors, warns = self.guards.recorder.end()
        found = errors + warns
        if found:
            item.add_report_section(when, "awaitest", summary(item.nodeid, found))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Report a bad `timeout` marker as the test's setup error, before any fixture."""
        item.stash[_POLICY] = _pytest_asyncio.policy_object()
        error = self._config(item).error
        if error is not None:
            raise pytest.fail.Exception(error, pytrace=False)

    @pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_runtest_setup")
    def pytest_runtest_setup_watched(self, item: pytest.Item) -> Generator[None, object, object]:
        """Watch the test's setup; arrange the leak check of a loop it shares."""
        __tracebackhide__ = True
        plan = self.state.planner.item_plan(item)
        if plan.claimed and plan.owner is not item:
            runner = self.state.loops.get(plan.owner)
            baseline = (
                self.guards.snapshot(runner.loop, shared=True) if runner is not None else EMPTY
            )
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
        try:
            return (yield from self._phase(item, "teardown"))
        finally:
            self._restore_policy(item)

    def _restore_policy(self, item: pytest.Item) -> None:
        """Undo an event loop policy the test installed, so later tests get asyncio's loops."""
        before = item.stash.get(_POLICY, None)
        now = _pytest_asyncio.policy_object()
        # asyncio creates its default policy lazily: that is no change of policy.
        expected = type(before) if before is not None else _pytest_asyncio.DEFAULT_POLICY_TYPE
        if now is None or type(now) is expected or self.state.loops.policy_overridden:
            return
        _pytest_asyncio.set_policy(before)
        self.state.loops.reassert_current()

    def _check_shared(self, owner: Node, baseline: Snapshot) -> None:
        runner = self.state.loops.get(owner)
        if runner is not None:
            self.guards.check(runner.loop, baseline, shared=True)
            self.guards.reattach(runner.loop)

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
            self.guards.recorder.begin(item.nodeid, self._policy(options))
            self.guards.recorder.add(Guard.MISUSE, msg)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        """Close the selector and self-pipe kept for the next test's loop: tests are over."""
        _loops.release_pool()

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self) -> None:
        """Close those of the loops closed since (the session's, an interrupted run's)."""
        _loops.release_pool()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """List never-awaited coroutines freed outside any test (a warning, not a failure)."""
        late = self.guards.late_findings
        if late:
            terminalreporter.section("awaitest: found outside any test", sep="-")
            terminalreporter.line(
                "These coroutines were freed between tests (kept alive until then by a "
                "reference cycle or a failed test's traceback):"
            )
            for message in late:
                terminalreporter.line(f"- {message}")

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


def _hide_unless_own_failure(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    return not isinstance(excinfo.value, pytest.fail.Exception)


def _warn(item: pytest.Item, message: str) -> None:
    path, line, _name = item.location
    warnings.warn_explicit(
        AwaitestWarning(f"{item.nodeid}: {message}"),
        AwaitestWarning,
        filename=str(item.path),
        lineno=(line or 0) + 1,
        module=path,
    )
