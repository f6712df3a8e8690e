"""Which tests run together, and running them: the pytest side of concurrency.

`Concurrency` (a plugin object) takes over `pytest_runtest_protocol` for
tests that opted in. Consecutive opted-in tests with the same parent
(module or class), loop and wider-fixture parameters form a `Group`: each
test's protocol (setup, call, teardown, through pytest's own hooks and
fixtures) runs in a fiber, and the fibers take turns around the group's
loop, so one test's awaits let the others run. Reports are logged in
collection order as tests finish. The last test of a group tears the
shared parents down once every other test of the group has finished.

A test using a fixture that patches process-wide state (`UNSAFE_FIXTURES`,
the `awaitest_unsafe_fixtures` ini key, the `pytest_awaitest_unsafe_fixtures`
hook) runs alone, as do tests on virtual time and every test under `--pdb`,
`--trace` or `--setup-show`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import itertools
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

import pytest

from .._compat import TestCaseFunction
from .._compat import protocol as _protocol
from .._guards.findings import PhaseRecord
from .._runner import LoopRunner
from .._session import State
from .fibers import FIBER, EnvSlot, Fiber, Scheduler, Slot, copy_exception
from .output import Separation

T = TypeVar("T")

#: Fixtures that change process-wide state for their test: a test using one runs alone.
UNSAFE_FIXTURES: Final = frozenset(
    {
        # pytest's own: patching, capturing, warnings, working directory
        "monkeypatch",
        "capsys",
        "capsysbinary",
        "capfd",
        "capfdbinary",
        "caplog",
        "recwarn",
        "pytester",
        "testdir",
        # awaitest's own: a loop policy, and virtual time (a clock per loop)
        "event_loop_policy",
        "virtual_clock",
        # well-known plugins' patching fixtures
        "mocker",
        "freezer",
        "time_machine",
        "httpx_mock",
        "respx_mock",
    }
)

#: Names in a test's code that record warnings process-wide (pytest.warns & co.).
_RECORDS_WARNINGS: Final = frozenset({"warns", "deprecated_call", "catch_warnings"})

#: Options under which every test runs alone: they stop in, or print from, one test.
_ALONE_OPTIONS: Final = ("usepdb", "trace", "setupshow", "setuponly", "setupplan")

_RECORD_SLOT: Final = 3  # index of the guard recorder's slot in Group's slots


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


class Concurrency:
    """Runs opted-in async tests concurrently (a plugin object)."""

    def __init__(self, state: State, config: pytest.Config) -> None:
        self.state = state
        self.config = config
        self.group: Group | None = None
        self._unsafe: frozenset[str] | None = None
        self._alone = any(config.getoption(name, False) for name in _ALONE_OPTIONS)
        self._none_opted_in: bool | None = None

    def unsafe_fixtures(self) -> frozenset[str]:
        """Every fixture that makes a test run alone: awaitest's, the ini's, plugins'."""
        if self._unsafe is None:
            names = set(UNSAFE_FIXTURES) | set(self.state.settings.unsafe_fixtures)
            for found in self.config.hook.pytest_awaitest_unsafe_fixtures(config=self.config):
                names.update(found)
            self._unsafe = frozenset(names)
        return self._unsafe

    def runs_concurrently(self, item: pytest.Item) -> bool:
        """Whether the test opted in and may share its loop with other running tests."""
        if self._alone or not isinstance(item, pytest.Function):
            return False
        plan = self.state.planner.item_plan(item)
        if not plan.concurrent or plan.error is not None or plan.policy is not None:
            return False
        if isinstance(item, TestCaseFunction) or self.state.wants_virtual_time(item):
            return False
        if _records_warnings(item.obj):
            return False
        return self.unsafe_fixtures().isdisjoint(item.fixturenames)

    def _key(self, item: pytest.Item) -> tuple[object, ...]:
        plan = self.state.planner.item_plan(item)
        return (item.parent, plan.owner, plan.factory)

    def _joins(self, item: pytest.Item, other: pytest.Item | None) -> bool:
        """Whether `other` may run in the same group as `item`."""
        if other is None or not self.runs_concurrently(other):
            return False
        if self._key(other) != self._key(item):
            return False
        mine, theirs = _protocol.wide_params(item), _protocol.wide_params(other)
        return all(theirs[name] == value for name, value in mine.items() if name in theirs)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> object:
        """Start the test in its group, if it runs concurrently; log what has finished."""
        if self._none_opted_in is None:
            self._none_opted_in = self._check_opt_in(item)
            if self._none_opted_in:
                return None
        group = self.group
        if group is not None and group.expected is not item:
            self._finish()  # pytest went elsewhere (a plugin re-running a test)
            group = None
        if group is None:
            if not (self.runs_concurrently(item) and self._joins(item, nextitem)):
                return None  # alone, or a group of one: pytest's own protocol
            group = Group.open(self, item)
            if group is None:
                return None
            self.group = group
        last = not self._joins(item, nextitem)
        try:
            with group.warnings_routed():
                started = group.add(item, nextitem, last=last)
                session = item.session
                if last or not started or session.shouldfail or session.shouldstop:
                    self._finish()
        except BaseException as exc:
            self._finish(interrupted=exc)
            raise
        return True

    def _check_opt_in(self, item: pytest.Item) -> bool:
        """At the first test: if none of the session's tests opted in, step aside for good."""
        planner = self.state.planner
        planner.item_plan(item)  # plans the whole session
        if any(planner.item_plan(i).concurrent for i in item.session.items):
            return False
        self.config.pluginmanager.unregister(self)
        return True

    def _finish(self, *, interrupted: BaseException | None = None) -> None:
        group, self.group = self.group, None
        if group is not None:
            group.finish(interrupted=interrupted)


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
        slots = [
            Slot(first.session, "_setupstate", lambda: _protocol.own_stack(first.session)),
            Slot(state, "current_item", lambda: None),
            Slot(state, "loop_pending", lambda: None),
            Slot(recorder, "record", lambda: PhaseRecord(None, session_policy, [])),
            Slot(state.timeouts, "_phase", lambda: None),
            Slot(guards.blocking, "active", lambda: None),
            EnvSlot("PYTEST_CURRENT_TEST"),
        ]
        assert slots[_RECORD_SLOT].attr == "record"
        self._output = Separation(first.config, self._owner)
        slots += self._output.slots(len(slots))
        self.scheduler = Scheduler(loop, slots)
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
        #: Tasks the group's task factory started for no test (`Fiber.tasks`: for one).
        self._unowned_tasks: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
        self._tracking = False
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
        guards.task_source = self._tasks_in_view
        exit_stack.callback(setattr, guards, "task_source", None)
        state.timeouts.related = lambda stuck, task: _concerns(task, task_owner(stuck))
        exit_stack.callback(setattr, state.timeouts, "related", None)
        exit_stack.enter_context(_protocol.fixture_setups_guarded(self._guard_setup))
        exit_stack.enter_context(state.timeouts.signals_handled())
        exit_stack.enter_context(_protocol.request_calls_routed(self._as_owner))
        if loop.get_task_factory() is None:
            loop.set_task_factory(self._task_factory)
            self._tracking = True
            exit_stack.callback(self._reset_task_factory)
        previous = guards.enter(loop)  # the blocking guard watches the loop while it runs
        exit_stack.callback(guards.leave, loop, previous)
        self._output.enter()
        exit_stack.callback(self._output.exit)

    def _reset_task_factory(self) -> None:
        self._tracking = False
        if not self.loop.is_closed():
            self.loop.set_task_factory(None)

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
            fiber = self._owner()
            if fiber is not None and not fiber.done:
                return scheduler.borrow(fiber, call)
        return call()

    def _task_factory(
        self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        task = _OwnedTask(coro, loop=loop, **kwargs)
        context = kwargs.get("context")
        fiber = context.get(FIBER) if context is not None else FIBER.get()
        task.awaitest_fiber = fiber
        (self._unowned_tasks if fiber is None else fiber.tasks).add(task)
        return task

    def _tasks_in_view(self, loop: asyncio.AbstractEventLoop) -> Iterable[asyncio.Task[Any]] | None:
        """The tasks on `loop` the running test answers for: its own and those of no test.

        None (all the loop's tasks) for another loop; filtered from all the
        loop's tasks if a task factory of the test's own left them untracked.
        """
        if loop is not self.loop:
            return None
        fiber = FIBER.get()
        if not self._tracking:
            return [t for t in asyncio.all_tasks(loop) if _concerns(t, fiber)]
        if fiber is None:
            return self._unowned_tasks
        return itertools.chain(fiber.tasks, self._unowned_tasks)

    def _owner(self, about: object = None) -> Fiber | None:
        """The test the running code (or a task or callback) works for.

        By the context of the running code, else by the task the loop runs.
        """
        fiber: Fiber | None = None
        if isinstance(about, asyncio.Future):
            fiber = task_owner(about)
        elif about is not None:
            context = getattr(about, "_context", None)  # a callback's asyncio.Handle
            fiber = context.get(FIBER) if context is not None else None
        if fiber is None:
            fiber = FIBER.get()
        if fiber is None:
            task = asyncio.current_task(self.loop) if not self.loop.is_closed() else None
            fiber = task_owner(task) if task is not None else None
        return fiber if fiber is not None and fiber.scheduler is self.scheduler else None

    def _route(self, about: object) -> PhaseRecord | None:
        fiber = self._owner(about)
        if fiber is None or fiber is self.scheduler.running:
            return None  # the running fiber's record is the recorder's own
        record: PhaseRecord = fiber.value(_RECORD_SLOT)
        return record


class _OwnedTask(asyncio.Task):  # type: ignore[type-arg]
    """A task that knows which concurrent test it works for.

    Kept on the task itself: a weak mapping forgets a task the garbage
    collector is destroying before asyncio reports it destroyed while pending.
    """

    awaitest_fiber: Fiber | None = None


def task_owner(task: object) -> Fiber | None:
    """The concurrent test a task was started for, if any."""
    owner: Fiber | None = getattr(task, "awaitest_fiber", None)
    return owner


def _records_warnings(func: object) -> bool:
    """Whether a test's own code uses pytest.warns, deprecated_call or catch_warnings.

    They record every warning raised while they are active, whichever test
    raises it: a test using one would pass on a neighbour's warning.
    """
    code = getattr(inspect.unwrap(func), "__code__", None)  # type: ignore[arg-type]
    return code is not None and not _RECORDS_WARNINGS.isdisjoint(code.co_names)


def _concerns(task: asyncio.Task[Any], fiber: Fiber | None) -> bool:
    """Whether a task is `fiber`'s test's to answer for (a task of no test is everyone's)."""
    owner = task_owner(task)
    return owner is None or owner is fiber


def _nothing() -> None:
    pass
