"""pytest's run-test protocol, in pieces, for tests that run concurrently.

pytest runs one test at a time: one setup stack (`SetupState`) holds the
nodes set up so far, and `runtestprotocol` logs each phase's report as it
happens. Concurrent tests each get a view of the stack that shares the
parents' finalizer lists, run the protocol without logging, and have their
reports logged later, in collection order. These are pytest internals
(`_pytest.runner`), kept here so a pytest upgrade breaks one module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _pytest import nodes as _nodes
from _pytest.fixtures import FixtureDef, FixtureRequest, SubRequest, TopRequest
from _pytest.outcomes import TEST_OUTCOME
from _pytest.runner import SetupState, call_and_report
from _pytest.warnings import catch_warnings_for_item as _catch_warnings_for_item

__all__ = [
    "capture_files",
    "catch_warnings_for_item",
    "fixture_setups_guarded",
    "function_fixture_state",
    "log_report_handler_slot",
    "log_reports",
    "own_stack",
    "read_capture",
    "request_calls_routed",
    "run_protocol",
    "setup_parents",
    "sync_stack",
    "teardown_own_node",
    "wide_params",
]


def setup_parents(item: pytest.Item) -> None:
    """Set up the item's parent nodes on the session's stack, as its setup would.

    A parent whose setup fails keeps the error; every test under it reports
    that error at its own setup, as pytest does.
    """
    state = item.session._setupstate
    chain = item.listchain()[:-1]
    for col in list(state.stack):
        if col not in chain:
            msg = f"awaitest: {col!r} is still set up, but {item.nodeid} does not need it"
            raise AssertionError(msg)
    for col in chain[len(state.stack) :]:
        state.stack[col] = ([col.teardown], None)
        try:
            col.setup()
        except TEST_OUTCOME as exc:
            state.stack[col] = (state.stack[col][0], (exc, exc.__traceback__))
            return


def own_stack(session: pytest.Session) -> SetupState:
    """A setup stack for one concurrent test: the session's parents, then the test.

    The parents' finalizer lists are shared, so a wider fixture set up by any
    of the tests is torn down once, with its node.
    """
    state = SetupState()
    state.stack = dict(session._setupstate.stack)
    return state


def sync_stack(session: pytest.Session, last: SetupState) -> None:
    """After the last test of a group tore its parents down: forget them in the session's."""
    shared = session._setupstate
    for col in list(shared.stack):
        if col not in last.stack:
            del shared.stack[col]


def run_protocol(
    item: pytest.Item,
    nextitem: pytest.Item | None,
    reports: list[pytest.TestReport],
    *,
    before_teardown: Callable[[], object],
    last: bool,
) -> None:
    """`runtestprotocol` without logging: add the reports to `reports` for the caller to log.

    `before_teardown` runs between the call and the teardown (the last test of
    a group waits there for the others). Only the `last` test tears down
    everything when the session is about to stop.
    """
    hasrequest = hasattr(item, "_request")
    if hasrequest and not item._request:  # type: ignore[attr-defined]
        item._initrequest()  # type: ignore[attr-defined]
    try:
        reports.append(call_and_report(item, "setup", log=False))
        if reports[0].passed and not item.config.getoption("setuponly", False):
            reports.append(call_and_report(item, "call", log=False))
        before_teardown()
        if last and (item.session.shouldfail or item.session.shouldstop):
            nextitem = None
        reports.append(call_and_report(item, "teardown", log=False, nextitem=nextitem))
    finally:
        if hasrequest:
            item._request = False  # type: ignore[attr-defined]
            item.funcargs = None  # type: ignore[attr-defined]


def teardown_own_node(item: pytest.Item) -> None:
    """Tear down the test's own node only (after an interrupt), keeping its parents."""
    state = item.session._setupstate
    if item not in state.stack:
        return
    _node, (finalizers, _exc) = state.stack.popitem()
    while finalizers:
        fin = finalizers.pop()
        with contextlib.suppress(Exception):  # interrupted anyway: that is what counts
            fin()


def log_reports(item: pytest.Item, reports: list[pytest.TestReport]) -> None:
    """Log a test's reports as pytest's own protocol would have, as they happened."""
    ihook = item.ihook
    with _xdist_reporting(item):
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for report in reports:
            ihook.pytest_runtest_logreport(report=report)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)


@contextlib.contextmanager
def _xdist_reporting(item: pytest.Item) -> Iterator[None]:
    """On an xdist worker, send the reports as `item`'s (it tags them with the running test)."""
    worker = _xdist_worker(item.config)
    if worker is None:
        yield
        return
    index = _item_indexes(item.session).get(item.nodeid)
    running = worker.item_index
    worker.item_index = index
    try:
        yield
    finally:
        worker.item_index = running


def _xdist_worker(config: pytest.Config) -> Any:
    if not hasattr(config, "workerinput"):
        return None
    for plugin in config.pluginmanager.get_plugins():
        if type(plugin).__name__ == "WorkerInteractor" and hasattr(plugin, "item_index"):
            return plugin
    return None


_INDEXES: pytest.StashKey[dict[str, int]] = pytest.StashKey()


def _item_indexes(session: pytest.Session) -> dict[str, int]:
    indexes = session.stash.get(_INDEXES, None)
    if indexes is None or len(indexes) != len(session.items):
        indexes = {item.nodeid: n for n, item in enumerate(session.items)}
        session.stash[_INDEXES] = indexes
    return indexes


def capture_files(config: pytest.Config) -> tuple[Any, Any] | None:
    """The files pytest's global capture collects stdout and stderr in (None: -s)."""
    capman: Any = config.pluginmanager.getplugin("capturemanager")
    capturing = getattr(capman, "_global_capturing", None)
    if capturing is None or capturing.out is None or capturing.err is None:
        return None
    return capturing.out.tmpfile, capturing.err.tmpfile


def read_capture(config: pytest.Config) -> tuple[str, str]:
    """Take what pytest's global capture has collected so far."""
    capman: Any = config.pluginmanager.getplugin("capturemanager")
    out, err = capman.read_global_capture()
    return out, err


def log_report_handler_slot(config: pytest.Config) -> tuple[Any, str, Callable[[], Any]] | None:
    """(logging plugin, attribute, maker) of the handler that collects a test's log section."""
    plugin = config.pluginmanager.getplugin("logging-plugin")
    if plugin is None:
        return None
    from _pytest.logging import LogCaptureHandler

    def make() -> Any:
        handler = LogCaptureHandler()
        handler.setFormatter(plugin.formatter)
        return handler

    return plugin, "report_handler", make


def wide_params(item: pytest.Item) -> dict[str, Any]:
    """The item's parameters of fixtures wider than function scope (name -> param index)."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return {}
    scopes: dict[str, Any] = getattr(callspec, "_arg2scope", {})
    return {
        name: callspec.indices.get(name)
        for name, scope in scopes.items()
        if getattr(scope, "value", scope) != "function"
    }


#: Called before a fixture is set up; returns what to call once it is (or None), with
#: what the setup raised, if anything.
Guard = Callable[[FixtureDef[Any]], "Callable[[BaseException | None], None] | None"]


@contextlib.contextmanager
def fixture_setups_guarded(guard: Guard) -> Iterator[None]:
    """Let `guard` see every fixture before pytest looks at its cache, while active.

    Two concurrent tests may need the same wider fixture at once: the second
    must wait until the first has set it up, then find it in pytest's cache.
    Waiting in `pytest_fixture_setup` is too late: pytest has already begun
    the setup then.
    """
    original = FixtureDef.execute

    def execute(self: FixtureDef[Any], request: Any) -> Any:
        done = guard(self)
        if done is None:
            return original(self, request)
        try:
            value = original(self, request)
        except BaseException as exc:
            done(exc)
            raise
        done(None)
        return value

    FixtureDef.execute = execute  # type: ignore[method-assign]
    try:
        yield
    finally:
        FixtureDef.execute = original  # type: ignore[method-assign]


def function_fixture_state(
    of: pytest.Item | FixtureDef[Any],
) -> Iterator[tuple[FixtureDef[Any], str, Any]]:
    """Yield (fixture definition, attribute, initial value maker) for function fixtures.

    Of the item's fixture closure, or of one fixture definition. pytest keeps a
    function-scoped fixture's value and finalizers on its definition, shared
    by every test using it: one test at a time. Each concurrent test needs its
    own copy of these attributes.
    """
    from . import closure_fixturedefs

    fixturedefs = [of] if isinstance(of, FixtureDef) else closure_fixturedefs(of)
    for fixturedef in fixturedefs:
        if fixturedef.scope == "function":
            yield fixturedef, "cached_result", _none
            yield fixturedef, "_finalizers", list


def _none() -> None:
    return None


@contextlib.contextmanager
def catch_warnings_for_item(item: pytest.Item) -> Iterator[None]:
    """Record the warnings of a test's whole protocol as pytest's warnings plugin does."""
    with _catch_warnings_for_item(config=item.config, ihook=item.ihook, when="runtest", item=item):
        yield


#: The methods a test's code may call on `request` or a node while it runs, that read or
#: change pytest's per-test state.
_PER_TEST_METHODS: tuple[tuple[type, str], ...] = (
    (FixtureRequest, "getfixturevalue"),
    (TopRequest, "addfinalizer"),
    (SubRequest, "addfinalizer"),
    (_nodes.Node, "addfinalizer"),
)


@contextlib.contextmanager
def request_calls_routed(route: Callable[[Callable[[], Any]], Any]) -> Iterator[None]:
    """While active, run `request.getfixturevalue()` and the `addfinalizer()`s through `route`.

    A concurrent test's code runs on the loop, in the scheduler's thread,
    where pytest's per-test state is not that test's: `route` runs the call
    with the calling test's state in place.
    """
    originals = [(cls, name, cls.__dict__[name]) for cls, name in _PER_TEST_METHODS]

    def routed(original: Callable[..., Any]) -> Callable[..., Any]:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            return route(lambda: original(self, *args, **kwargs))

        method.__wrapped__ = original  # type: ignore[attr-defined]
        return method

    for cls, name, original in originals:
        setattr(cls, name, routed(original))
    try:
        yield
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)
