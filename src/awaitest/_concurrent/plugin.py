"""Which tests run together: the pytest plugin object of concurrency.

`Concurrency` (registered by `Gate` when a test of the session opted in)
takes over `pytest_runtest_protocol` for tests that opted in.
Consecutive opted-in tests with the same parent (module or class), loop and
wider-fixture parameters form a `Group` (see group.py), which runs them.

A test using a fixture that patches process-wide state (`UNSAFE_FIXTURES`,
the `awaitest_unsafe_fixtures` ini key, the `pytest_awaitest_unsafe_fixtures`
hook) runs alone, as do tests on virtual time, tests whose code records
warnings (`pytest.warns`), and every test under `--pdb`, `--trace` or
`--setup-show`.
"""

from __future__ import annotations

import inspect
from typing import Final

import pytest

from .._compat import TestCaseFunction
from .._compat import protocol as _protocol
from .._session import State
from .group import Group

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


class Concurrency:
    """Runs opted-in async tests concurrently (a plugin object)."""

    def __init__(self, state: State, config: pytest.Config) -> None:
        self.state = state
        self.config = config
        self.group: Group | None = None
        self._unsafe: frozenset[str] | None = None
        self._alone = any(config.getoption(name, False) for name in _ALONE_OPTIONS)

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

    def _finish(self, *, interrupted: BaseException | None = None) -> None:
        group, self.group = self.group, None
        if group is not None:
            group.finish(interrupted=interrupted)


def _records_warnings(func: object) -> bool:
    """Whether a test's own code uses pytest.warns, deprecated_call or catch_warnings.

    They record every warning raised while they are active, whichever test
    raises it: a test using one would pass on a neighbour's warning.
    """
    code = getattr(inspect.unwrap(func), "__code__", None)  # type: ignore[arg-type]
    return code is not None and not _RECORDS_WARNINGS.isdisjoint(code.co_names)
