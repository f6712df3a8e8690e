"""Running a group of concurrent tests: the pytest side of concurrency.

Each test's protocol (setup, call, teardown, through pytest's own hooks
and fixtures) runs in a fiber, and the fibers take turns around the
group's loop, so one test's awaits let the others run. Reports are logged
in collection order as tests finish. The last test of a group tears the
shared parents down once every other test of the group has finished.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from .._compat import protocol as _protocol
from .._guards.findings import PhaseRecord
from .._runner import LoopRunner
from .fibers import EnvSlot, Fiber, Scheduler, Slot, copy_exception
from .output import Separation
from .owners import Owners, concerns, task_owner

if TYPE_CHECKING:
    from .plugin import Concurrency

T = TypeVar("T")


class _Entry:
    """One test of a group, from its start until its reports are logged."""

    __slots__ = ("fiber", "item", "reports", "stack")

    def __init__(self, item: pytest.Item) -> None:
        self.item = item
        self.fiber: Fiber | None = None
        self.reports: list[pytest.TestReport] = []
        self.stack: Any = None  # the last test's setup stack, once it has run

    def finished(self) -> bool:
        """Whether the test has an outcome to report (an interrupted one may not)."""
        reports = self.reports
        return len(reports) > 1 or (len(reports) == 1 and not reports[0].passed)


class Group:
    """Consecutive concurrent tests with one parent and one loop, running together."""

    def __init__(self, plugin: Concurrency, first: pytest.Item, runner: LoopRunner) -> None:
        state = plugin.state
        self.state = state
        self.session = first.session
        self.runner = runner
        self.loop = loop = runner.loop
        self.max = state.settings.max_concurrency
        guards, recorder = state.guards, state.guards.recorder
        session_policy = recorder.session_policy
        record = Slot(recorder, "record", lambda: PhaseRecord(None, session_policy, []))
        slots = [
            Slot(first.session, "_setupstate", lambda: _protocol.own_stack(first.session)),
            Slot(state, "current_item", lambda: None),
            Slot(state, "loop_pending", lambda: None),
            record,
            Slot(state.timeouts, "_phase", lambda: None),
            Slot(guards.blocking, "active", lambda: None),
            EnvSlot("PYTEST_CURRENT_TEST"),
        ]
        self._record_slot = slots.index(record)
        self.scheduler = Scheduler(loop, slots)
        self.owners = Owners(self.scheduler)
        self._output = Separation(first.config, self.owners.owner)
        self.scheduler.add_slots(self._output.slots(len(slots)))
        self.scheduler.on_done = self._done
        self.scheduler.on_turn = (self._output.turn_begins, self._output.turn_ends)
        self.entries: collections.deque[_Entry] = collections.deque()
        self.expected: pytest.Item | None = first
        self.running = 0
        self.last: _Entry | None = None
        self._others_done: asyncio.Future[None] = loop.create_future()
        self._setting_up: dict[object, asyncio.Future[None]] = {}
        self._interrupted_setups: dict[object, BaseException] = {}
        self._exit = contextlib.ExitStack()
        #: The fixture state each test has its own copy of (see function_fixture_state).
        self._own_state: set[tuple[object, str]] = set()

    @classmethod
    def open(cls, plugin: Concurrency, first: pytest.Item) -> Group | None:
        """Set up the first test's parents and loop; None if that failed (run it alone)."""
        _protocol.setup_parents(first)
        if any(exc is not None for _fins, exc in first.session._setupstate.stack.values()):
            return None  # each test reports its parent's setup error, as usual
        try:
            runner = plugin.state.item_runner(first)
        except Exception:  # the test's own setup reports it
            return None
        group = cls(plugin, first, runner)
        group._enter()
        return group

    # -- the group's lifetime (scheduler's thread) -------------------------------

    def _enter(self) -> None:
        state, loop = self.state, self.loop
        guards = state.guards
        self.runner.driver = self.scheduler
        guards.recorder.route = self._route
        exit_stack = self._exit
        guards.task_source = self.owners.tasks_in_view
        exit_stack.callback(setattr, guards, "task_source", None)
        state.timeouts.related = lambda stuck, task: concerns(task, task_owner(stuck))
        exit_stack.callback(setattr, state.timeouts, "related", None)
        exit_stack.enter_context(_protocol.fixture_setups_guarded(self._guard_setup))
        exit_stack.enter_context(state.timeouts.signals_handled())
        exit_stack.enter_context(_protocol.request_calls_routed(self._as_owner))
        if self.owners.track():
            exit_stack.callback(self.owners.untrack)
        previous = guards.enter(loop)  # the blocking guard watches the loop while it runs
        exit_stack.callback(guards.leave, loop, previous)
        self._output.enter()
        exit_stack.callback(self._output.exit)

    def add(self, item: pytest.Item, nextitem: pytest.Item | None, *, last: bool) -> bool:
        """Start a test; return once it waits, having logged every test done so far.

        Returns False, starting nothing, if the session is stopping (`-x`,
        `--maxfail`): the tests already running finish, no new one starts.
        """
        if self.running >= self.max:
            try:
                self.scheduler.run_until(lambda: self.running < self.max)
            except BaseException:
                self.flush(interrupted=True)
                raise
            self.flush()
        if self._stopping():
            return False
        self._own_fixture_state(_protocol.function_fixture_state(item))
        entry = _Entry(item)
        entry.fiber = Fiber(
            self.scheduler, lambda: self._protocol(entry, nextitem, last), f"awaitest {item.nodeid}"
        )
        self.entries.append(entry)
        self.expected = nextitem
        if last:
            self.last = entry
        self.running += 1
        self.scheduler.start(entry.fiber)
        self.scheduler.poll()
        self.flush()
        return True

    def _own_fixture_state(self, state: Iterable[tuple[Any, str, Callable[[], Any]]]) -> None:
        """Give each test its own copy of these function fixtures' state (once per fixture)."""
        new = [
            Slot(fixturedef, attr, initial)
            for fixturedef, attr, initial in state
            if (fixturedef, attr) not in self._own_state
        ]
        if new:
            self._own_state.update((slot.obj, slot.attr) for slot in new)
            self.scheduler.add_slots(new)

    def _stopping(self) -> bool:
        """Whether the session stops: logged failures, or finished ones not yet logged."""
        session = self.session
        if session.shouldfail or session.shouldstop:
            return True
        maxfail = session.config.getoption("maxfail", 0) or 0
        if maxfail <= 0:
            return False
        waiting = sum(
            1
            for entry in self.entries
            if entry.fiber is not None
            and entry.fiber.done
            and any(r.failed and not hasattr(r, "wasxfail") for r in entry.reports)
        )
        return session.testsfailed + waiting >= maxfail

    def finish(self, *, interrupted: BaseException | None = None) -> None:
        """Run every started test to its end, log the rest, and close the group.

        After an interrupt (Ctrl-C, `pytest.exit()`), the tests still running
        stop where they wait and tear down; those that finished are logged.
        """
        try:
            if interrupted is not None:
                if self.scheduler.fibers:
                    self.scheduler.interrupt_all(interrupted)
                self.flush(interrupted=True)
            else:
                try:
                    self.scheduler.run_until(lambda: self.running == 0)
                except BaseException:
                    self.flush(interrupted=True)  # the fibers ended: log what they finished
                    raise
                self.flush()
        finally:
            self._close()

    def warnings_routed(self) -> contextlib.AbstractContextManager[None]:
        """Record warnings raised on the loop with the test that raised them (see output)."""
        return self._output.warnings_routed()

    def _close(self) -> None:
        guards = self.state.guards
        try:
            self._exit.close()
        finally:
            self.runner.driver = None
            guards.recorder.route = None
            if self.last is not None and self.last.stack is not None:
                _protocol.sync_stack(self.session, self.last.stack)

    def flush(self, *, interrupted: bool = False) -> None:
        """Log the reports of finished tests, in collection order, up to the first running.

        A test whose protocol raised (Ctrl-C, `pytest.exit()`) has no reports;
        the run stops: the other tests stop where they wait, what finished is
        logged, and the error is raised here (unless the run is `interrupted`
        already).
        """
        error: BaseException | None = None
        while self.entries:
            entry = self.entries[0]
            fiber = entry.fiber
            assert fiber is not None
            if not fiber.done:
                if error is None:
                    return
                self.scheduler.interrupt_all(error)
                continue
            self.entries.popleft()
            if entry.finished():
                _protocol.log_reports(entry.item, entry.reports)
            if fiber.error is not None and error is None:
                error = fiber.error
        if error is not None and not interrupted:
            raise error

    def _done(self, fiber: Fiber) -> None:
        self.running -= 1
        last = self.last
        ready = self.running == 0 or (
            self.running == 1 and last is not None and not last.fiber.done  # type: ignore[union-attr]
        )
        if ready and not self._others_done.done():
            self._others_done.set_result(None)

    # -- in the fibers ------------------------------------------------------------

    def _protocol(self, entry: _Entry, nextitem: pytest.Item | None, last: bool) -> None:
        item = entry.item
        try:
            with _protocol.catch_warnings_for_item(item):
                _protocol.run_protocol(
                    item,
                    nextitem,
                    entry.reports,
                    before_teardown=self._wait_for_others if last else _nothing,
                    last=last,
                )
        except BaseException:
            _protocol.teardown_own_node(item)
            raise
        finally:
            if last:
                entry.stack = item.session._setupstate

    def _wait_for_others(self) -> None:
        """The last test tears the parents down: first, every other test must be done."""
        if self.running > 1:
            self.scheduler.block_on(self._others_done)

    def _guard_setup(self, fixturedef: Any) -> Callable[[BaseException | None], None] | None:
        """A wider fixture another test is setting up: wait for it, then share it.

        A setup that failed is cached by pytest and raised for the waiting test
        too; one stopped by an interrupt (Ctrl-C) left nothing to share, so the
        waiting test stops with the interrupt as well.
        """
        if fixturedef.scope == "function":
            # One the test's closure did not name (request.getfixturevalue()): its own too.
            self._own_fixture_state(_protocol.function_fixture_state(fixturedef))
            return None
        if self.scheduler.in_fiber() is None:
            return None
        if fixturedef.cached_result is not None and fixturedef.params is None:
            return None  # set up, one value for all: pytest hands out its cache
        while (pending := self._setting_up.get(fixturedef)) is not None:
            self.scheduler.block_on(pending)
            stopped = self._interrupted_setups.get(fixturedef)
            if stopped is not None:
                raise copy_exception(stopped)
        done: asyncio.Future[None] = self.loop.create_future()
        self._setting_up[fixturedef] = done

        def release(exc: BaseException | None) -> None:
            del self._setting_up[fixturedef]
            if exc is not None and fixturedef.cached_result is None:  # pytest kept nothing
                self._interrupted_setups[fixturedef] = exc
            else:
                self._interrupted_setups.pop(fixturedef, None)
            done.set_result(None)

        return release

    # -- attributing what happens on the shared loop -------------------------------

    def _as_owner(self, call: Callable[[], T]) -> T:
        """Run a pytest call made by a test's code on the loop with that test's state."""
        scheduler = self.scheduler
        if scheduler.running is None:
            fiber = self.owners.owner()
            if fiber is not None and not fiber.done:
                return scheduler.borrow(fiber, call)
        return call()

    def _route(self, about: object) -> PhaseRecord | None:
        fiber = self.owners.owner(about)
        if fiber is None or fiber is self.scheduler.running:
            return None  # the running fiber's record is the recorder's own
        record: PhaseRecord = fiber.value(self._record_slot)
        return record


def _nothing() -> None:
    pass
