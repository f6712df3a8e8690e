"""Per-session state: the settings, the plan, and the live loops by owner node.

`Loops` creates a `LoopRunner` the first time a test or fixture needs the
loop of an owner node, and closes it when pytest tears that node down (a
finalizer registered at creation, so every fixture set up on the loop
afterwards is torn down first). It also keeps the running test's loop as
the thread's current event loop, for sync code that calls
`asyncio.get_event_loop()`; a sync fixture made with `awaitest.fixture` sees
its own loop instead. A loop the project's own code closed is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Iterator
from typing import Any, Final

import pytest

from . import _compat
from ._clock import VirtualClock, clock_of
from ._compat import pytest_asyncio as _pytest_asyncio
from ._config import Settings
from ._errors import ConfigError
from ._guards import Guards
from ._loops import LoopFactory
from ._plan import ItemPlan, Node, Planner
from ._runner import LoopRunner
from ._timeouts import Timeouts
from ._watchdog import Watchdog


def loop_label(owner: Node) -> str:
    """How messages name the loop a node owns."""
    if isinstance(owner, pytest.Session):
        return "the session loop"
    if isinstance(owner, pytest.Item):
        return f"the loop of test {owner.nodeid}"
    kind = "package" if isinstance(owner, pytest.Package) else type(owner).__name__.lower()
    return f"the {kind} loop of {owner.nodeid}"


class Loops:
    """The open event loops, one per owner node."""

    def __init__(
        self,
        *,
        debug: bool = False,
        guards: Guards | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self._runners: dict[Node, LoopRunner] = {}
        self._current: asyncio.AbstractEventLoop | None = None
        self._policies: dict[Node, object] = {}  # the policy to restore when the loop closes
        self._debug = debug
        self._guards = guards
        self._timeouts = timeouts

    def get(self, owner: Node) -> LoopRunner | None:
        """Return the owner's open loop runner, if it has one."""
        runner = self._runners.get(owner)
        return runner if runner is not None and not runner.loop.is_closed() else None

    def runner(
        self, owner: Node, factory: LoopFactory, who: str, *, policy: object = None
    ) -> LoopRunner:
        """Return the owner's loop, creating it (and scheduling its close) on first use.

        Args:
            owner: The node the loop lives as long as.
            factory: The loop implementation wanted.
            who: The test or fixture asking, for messages.
            policy: An event loop policy to make asyncio's global one while the
                loop lives (pytest-asyncio's `event_loop_policy` override).

        Raises:
            ConfigError: The owner's loop exists with another implementation.
        """
        runner = self._runners.get(owner)
        if runner is not None and not runner.loop.is_closed():
            self.check_factory(owner, factory, who)
            return runner
        # A loop closed by the project's own code (a fixture calling loop.close() or
        # asyncio.run()) is replaced; its close is already scheduled with its owner.
        first = runner is None
        if policy is not None:
            self._policies.setdefault(owner, _pytest_asyncio.current_policy())
            _pytest_asyncio.set_policy(policy)
        runner = LoopRunner(
            factory,
            loop_label(owner),
            guards=self._guards,
            timeouts=self._timeouts,
            debug=self._debug,
        )
        self._runners[owner] = runner
        self._set_current(runner.loop)
        if first:
            _compat.add_finalizer(owner, lambda: self.close(owner))
        return runner

    def check_factory(self, owner: Node, factory: LoopFactory, who: str) -> None:
        """Raise if the owner's loop is open and made by another factory.

        Raises:
            ConfigError: The owner's loop exists with another implementation.
        """
        runner = self._runners.get(owner)
        if runner is not None and runner.factory != factory:
            msg = (
                f"{who} wants a {factory.id!r} loop, but it shares {runner.label} "
                f"(a {runner.factory.id!r} loop) with wider-scoped async fixtures, and a "
                "shared loop has one implementation. Run those tests on one loop factory, or "
                "give this test its own loop with @pytest.mark.awaitest(loop_scope='function')."
            )
            raise ConfigError(msg)

    def make_current(self, owner: Node) -> bool:
        """Make the owner's loop the thread's current event loop, if it is open."""
        runner = self._runners.get(owner)
        if runner is None:
            return False
        self._set_current(runner.loop)
        return True

    def reassert_current(self) -> None:
        """Make the current loop current again (under a policy just put back)."""
        self._set_current(self._current)

    def _set_current(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._current = loop
        asyncio.set_event_loop(loop)

    @contextlib.contextmanager
    def current(self, runner: LoopRunner) -> Iterator[None]:
        """Make `runner`'s loop the current event loop for a while (a sync fixture's setup)."""
        previous = self._current
        self._set_current(runner.loop)
        try:
            yield
        finally:
            self._set_current(previous)

    def close(self, owner: Node) -> None:
        """Close the owner's loop, if it has one."""
        runner = self._runners.pop(owner, None)
        if runner is None:
            return
        try:
            try:
                if self._guards is not None and not runner.loop.is_closed():
                    self._guards.check(runner.loop)  # what the test (or fixture) left behind
            finally:
                clock = clock_of(runner.loop)
                if clock is not None:
                    clock.uninstall()
                runner.close()  # whatever the check raised (an interrupt, a timeout)
        finally:
            if owner in self._policies:
                _pytest_asyncio.set_policy(self._policies.pop(owner))
            remaining = list(self._runners.values())
            self._set_current(remaining[-1].loop if remaining else None)

    @property
    def policy_overridden(self) -> bool:
        """Whether a project's `event_loop_policy` fixture has set asyncio's policy."""
        return bool(self._policies)

    def close_all(self) -> None:
        """Close every loop still open, newest first (after an interrupted run)."""
        for owner in reversed(list(self._runners)):
            self.close(owner)


class State:
    """Everything awaitest keeps for one pytest session."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.planner = Planner(settings)
        self.watchdog = Watchdog()
        self.guards = Guards(settings.guards, settings.blocking_threshold, self.watchdog)
        self.timeouts = Timeouts(self.watchdog)
        self.loops = Loops(debug=settings.debug, guards=self.guards, timeouts=self.timeouts)
        self.current_item: pytest.Item | None = None
        #: A test whose loop opens at its first fixture setup (see plugin.pytest_runtest_setup).
        self.loop_pending: pytest.Item | None = None
        #: Which runner each async fixture instance was set up on (for loop-mismatch hints).
        self.fixture_runners: weakref.WeakValueDictionary[tuple[object, Node], LoopRunner] = (
            weakref.WeakValueDictionary()
        )

    def item_runner(self, item: pytest.Item) -> LoopRunner:
        """Return the loop runner a test runs on (on virtual time, if the test wants it).

        Raises:
            ConfigError: The loop cannot be made, or put on virtual time.
        """
        plan = self.planner.item_plan(item)
        factory, policy = self._factory(plan)
        runner = self.loops.runner(plan.owner, factory, item.nodeid, policy=policy)
        self.clock(item, runner)
        return runner

    def wants_virtual_time(self, item: pytest.Item) -> bool:
        """Whether a test runs on virtual time: its marker, the fixture, or the ini key."""
        chosen = self.planner.item_plan(item).options.virtual_time
        if chosen is not None:
            return chosen
        return "virtual_clock" in getattr(item, "fixturenames", ()) or self.settings.virtual_time

    def check_virtual_time(self, item: pytest.Item) -> None:
        """Refuse, at setup, a test that wants virtual time on a loop that cannot have it.

        Raises:
            ConfigError: The test's loop implementation cannot run on virtual time.
        """
        plan = self.planner.item_plan(item)
        if not plan.claimed or plan.factory.id == "asyncio" or not self.wants_virtual_time(item):
            return
        loop = plan.factory.new_loop()
        try:
            VirtualClock().install(loop)
        except ConfigError as exc:
            raise ConfigError(f"{item.nodeid}: {exc}") from None
        finally:
            loop.close()

    def clock(self, item: pytest.Item, runner: LoopRunner) -> VirtualClock | None:
        """Put the test's loop on virtual time if the test wants it; return its clock.

        The clock comes off when the test's fixtures are torn down (or the loop closes).

        Raises:
            ConfigError: The loop cannot run on virtual time (uvloop).
        """
        clock = clock_of(runner.loop)
        if clock is not None or not self.wants_virtual_time(item):
            return clock
        clock = VirtualClock()
        try:
            clock.install(runner.loop)
        except ConfigError as exc:
            raise ConfigError(f"{item.nodeid}: {exc}") from None
        _compat.add_finalizer(item, clock.uninstall)
        return clock

    def _factory(self, plan: ItemPlan) -> tuple[LoopFactory, object]:
        """Return the loop factory of a test, and the event loop policy it overrides, if any."""
        if plan.policy is None:
            return plan.factory, None
        policy = _compat.cached_value(plan.policy)
        factory = LoopFactory(f"{type(policy).__name__}@{id(policy):x}", policy.new_event_loop)
        return factory, policy

    def fixture_runner(
        self, fixturedef: _compat.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> LoopRunner:
        """Return the loop runner an async fixture instance runs on."""
        item = _compat.request_item(request)
        owner = self.planner.fixture_owner(fixturedef, request)
        factory, policy = self._factory(self.planner.item_plan(item))
        runner = self.loops.runner(owner, factory, f"fixture {fixturedef.argname!r}", policy=policy)
        self.fixture_runners[(fixturedef, request.node)] = runner
        if fixturedef.scope == "function":
            self.clock(item, runner)  # the test's own fixtures run on its clock
        # Opening a wider loop for a fixture must not take "current" away from the test's.
        if self.current_item is not None:
            self.loops.make_current(self.planner.item_plan(self.current_item).owner)
        return runner


STATE_KEY: Final = pytest.StashKey[State]()
