"""The pytest plugin (entry point `awaitest`): hooks that delegate to the modules.

Registered through the `pytest11` entry point, so `-p no:awaitest` disables
it. Each hook here is glue: settings come from `_config`, which tests and
fixtures are async from `_collect`, which loop they run on from `_plan`, and
the loops themselves from `_session` and `_runner`.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import warnings
from collections.abc import Generator
from typing import Any, NoReturn

import pytest

from . import _compat, _hints, _xunit, hookspecs
from ._builtin_fixtures import event_loop_policy as event_loop_policy
from ._builtin_fixtures import unused_tcp_port as unused_tcp_port
from ._builtin_fixtures import unused_tcp_port_factory as unused_tcp_port_factory
from ._builtin_fixtures import unused_udp_port as unused_udp_port
from ._builtin_fixtures import unused_udp_port_factory as unused_udp_port_factory
from ._builtin_fixtures import virtual_clock as virtual_clock
from ._collect import Kind, check_fixture_loop_scope, foreign_framework, has_read_markers, kind_of
from ._compat import pytest_asyncio as _pytest_asyncio
from ._compat import pytest_timeout as _pytest_timeout
from ._concurrent import Gate as ConcurrencyGate
from ._config import MarkerOptions, Mode, Settings, parse_bool
from ._errors import ConfigError, FixtureError, LoopMismatchError
from ._fixtures import adapt, with_current_loop
from ._guards import Guard
from ._loops import LoopFactory
from ._plan import FACTORY_PARAM, marker_options
from ._runner import LoopRunner
from ._session import STATE_KEY, State
from ._supervise import Supervision
from ._version import __version__

_ASYNCIO_MARKER_DOC = (
    "asyncio(loop_scope=None): pytest-asyncio's marker, run by awaitest: run this async test; "
    "loop_scope picks the event loop it shares."
)

_MARKER_DOC = (
    "awaitest(loop_scope=None, loop_factory=None): run this async test with awaitest; "
    "loop_scope picks the event loop it shares (function, class, module, package, session), "
    "loop_factory the loop implementation(s)."
)


_EVENT_LOOP_REMOVED = (
    "{where}: the fixture 'event_loop' overrides the event loop, which pytest-asyncio 0.x "
    "allowed and pytest-asyncio 1.x silently ignores. awaitest refuses it rather than run "
    "your tests on a loop you did not choose. Remove the fixture: to share one loop between "
    "tests, mark them @pytest.mark.asyncio(loop_scope='session') (or let awaitest share the "
    "loop of your wide async fixtures); to choose the loop implementation, set "
    "awaitest_loop_factory."
)


def _fail(msg: str) -> NoReturn:
    """Fail the current test or setup with `msg` alone: no traceback, no exception chain."""
    __tracebackhide__ = True
    raise pytest.fail.Exception(msg, pytrace=False) from None


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Offer awaitest's hooks, and pytest-asyncio's unless the real pytest-asyncio does."""
    pluginmanager.add_hookspecs(hookspecs.AwaitestHooks)
    if not _pytest_asyncio.real_plugin_expected(pluginmanager):
        pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Register awaitest's ini keys and options, and pytest-asyncio's where it is absent."""
    _pytest_asyncio.add_options(parser, pluginmanager)
    _pytest_timeout.add_options(parser, pluginmanager)
    group = parser.getgroup("awaitest", "async tests (awaitest)")
    group.addoption(
        "--awaitest-mode",
        dest="awaitest_mode",
        default=None,
        metavar="MODE",
        help="which async tests awaitest runs: 'auto' (all, the default) or 'strict' "
        "(only those marked awaitest). Overrides the awaitest_mode ini key.",
    )
    group.addoption(
        "--awaitest-guards",
        dest="awaitest_guards",
        default=None,
        metavar="POLICY",
        help="what the guards do: 'default', 'strict' (every guard fails the test) or 'off', "
        "optionally followed by guard=level entries. Overrides the awaitest_guards ini key.",
    )
    group.addoption(
        "--awaitest-timeout",
        dest="awaitest_timeout",
        default=None,
        metavar="SECONDS",
        help="timeout of each test, in seconds (0: none); an async test is cancelled and "
        "shows where it was stuck. Overrides awaitest_timeout and pytest-timeout's settings.",
    )
    parser.addini(
        "awaitest_guards",
        "what the guards do: default, strict or off, then guard=level entries (guards: "
        "never_awaited, task_errors, leaked_tasks, unclosed, blocking, misuse)",
        default=None,
    )
    parser.addini(
        "awaitest_blocking_threshold",
        "seconds sync code may hold the event loop before the blocking guard reports it "
        "(default 0.1)",
        default=None,
    )
    parser.addini(
        "awaitest_timeout", "timeout of each test in seconds (default: none)", default=None
    )
    parser.addini(
        "awaitest_virtual_time",
        "run async tests on virtual time: sleeps and timeouts take no real time",
        default=None,
    )
    parser.addini(
        "awaitest_concurrent",
        "run async tests concurrently on one loop per module or class (opt-in)",
        default=None,
    )
    parser.addini(
        "awaitest_max_concurrency",
        "how many concurrent tests run at once (default 100)",
        default=None,
    )
    parser.addini(
        "awaitest_unsafe_fixtures",
        "fixtures that make a concurrent test run alone (they patch process-wide state)",
        type="args",
        default=[],
    )
    parser.addini(
        "awaitest_mode",
        "which async tests awaitest runs: auto (default) or strict",
        default=None,
    )
    parser.addini(
        "awaitest_default_loop_scope",
        "loop scope for tests and async fixtures that set none: auto (default), "
        "function, class, module, package or session",
        default=None,
    )
    parser.addini(
        "awaitest_loop_factory",
        "event loop implementation(s): asyncio (default), uvloop, or package.module:callable; "
        "several run every async test on each",
        type="args",
        default=[],
    )


def _settings(config: pytest.Config) -> Settings:
    mode = config.getoption("awaitest_mode") or config.getini("awaitest_mode")
    try:
        compat = _pytest_asyncio.read_settings(config)
        settings = Settings.parse(
            mode=mode or compat.mode,
            default_loop_scope=config.getini("awaitest_default_loop_scope"),
            loop_factory=config.getini("awaitest_loop_factory"),
            guards=_guards_setting(config),
            blocking_threshold=config.getini("awaitest_blocking_threshold"),
            timeout=_timeout_setting(config),
            virtual_time=parse_bool(
                config.getini("awaitest_virtual_time"), "awaitest_virtual_time"
            ),
            concurrent=parse_bool(config.getini("awaitest_concurrent"), "awaitest_concurrent"),
            max_concurrency=config.getini("awaitest_max_concurrency"),
            unsafe_fixtures=config.getini("awaitest_unsafe_fixtures"),
        )
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    return dataclasses.replace(
        settings,
        compat_fixture_loop_scope=compat.fixture_loop_scope,
        compat_test_loop_scope=compat.test_loop_scope,
        debug=compat.debug,
    )


def _guards_setting(config: pytest.Config) -> tuple[str, str] | None:
    """`--awaitest-guards` or else `awaitest_guards`, and which of them it was."""
    value = config.getoption("awaitest_guards")
    if value is not None:
        return value, "--awaitest-guards"
    ini = config.getini("awaitest_guards")
    return (ini, "awaitest_guards") if ini else None


def _timeout_setting(config: pytest.Config) -> tuple[str, str] | None:
    """The session's timeout and where it was set: command line, then ini; awaitest's first."""
    value = config.getoption("awaitest_timeout")
    if value is not None:
        return str(value), "--awaitest-timeout"
    served = _pytest_timeout.session_timeout(config)
    if served is not None and served[1] != _pytest_timeout.INI_SOURCE:
        return served  # --timeout or PYTEST_TIMEOUT: the command line beats ini files
    ini = config.getini("awaitest_timeout")
    if ini:
        return str(ini), "the awaitest_timeout ini key"
    return served


def pytest_configure(config: pytest.Config) -> None:
    """Validate the settings and set up the session state, guards and timeouts."""
    if config.pluginmanager.has_plugin(_pytest_asyncio.PLUGIN_NAME):
        raise pytest.UsageError(_pytest_asyncio.BOTH_ACTIVE)
    config.addinivalue_line("markers", _MARKER_DOC)
    config.addinivalue_line("markers", _ASYNCIO_MARKER_DOC)
    _pytest_timeout.add_marker(config)
    state = State(_settings(config))
    config.stash[STATE_KEY] = state
    if state.settings.guards.enabled(Guard.UNCLOSED):
        _compat.add_lowest_warning_filter(config, "always::ResourceWarning")
    state.guards.start()
    config.pluginmanager.register(
        Supervision(state, state.guards, state.timeouts, config), "awaitest-supervision"
    )
    config.pluginmanager.register(ConcurrencyGate(state, config), "awaitest-concurrency-gate")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Close any loop an interrupted run left open; stop the guards and the watchdog."""
    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        try:
            state.loops.close_all()
        finally:
            state.guards.stop()
            state.watchdog.stop()


def pytest_report_header(config: pytest.Config) -> str:
    """Show awaitest's version, mode and loop in the report header."""
    settings = config.stash[STATE_KEY].settings
    loops = ", ".join(f.id for f in settings.loop_factories)
    scope = settings.default_loop_scope or "auto"
    timeout = f"{settings.timeout:g}s" if settings.timeout else "none"
    return (
        f"awaitest {__version__}: mode={settings.mode.value}, loop={loops}, loop_scope={scope}, "
        f"guards={settings.guards.describe()}, timeout={timeout}"
    )


def pytest_collectstart(collector: pytest.Collector) -> None:
    """Give async xunit hooks on a test class sync stand-ins before pytest reads them."""
    if isinstance(collector, pytest.Class):
        _xunit.patch_class(collector.config.stash[STATE_KEY], collector.obj)


@pytest.hookimpl(tryfirst=True)  # the loop id comes first in test ids, as in pytest-asyncio
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run async tests on each loop implementation when several are configured."""
    settings = metafunc.config.stash[STATE_KEY].settings
    definition = metafunc.definition
    # pytest-asyncio's event_loop_policy is autouse: a project's override (parametrized or
    # not) reaches every test, sync ones included.
    # (Only awaitest's own definition registered: nothing to look up for this test.)
    if len(_compat.registered_fixturedefs(definition.session, _pytest_asyncio.POLICY_FIXTURE)) > 1:
        policy_defs = _compat.visible_fixturedefs(metafunc, _pytest_asyncio.POLICY_FIXTURE)
        if policy_defs and _pytest_asyncio.is_override(policy_defs[-1]):
            _compat.add_to_closure(metafunc, _pytest_asyncio.POLICY_FIXTURE, policy_defs)
    if metafunc.function is None or kind_of(metafunc.function) is Kind.SYNC:
        return
    marked = has_read_markers(definition)
    if (
        not marked
        and len(settings.loop_factories) < 2
        and not _pytest_asyncio.factory_hook_implemented(metafunc.config)
    ):
        return  # no marker, one loop implementation: nothing to parametrize or check
    try:
        options = marker_options(definition, warn=True)
    except _pytest_asyncio.MarkerError as exc:
        _fail(str(exc))  # a collection error, as pytest-asyncio reports it
    except ConfigError:
        return  # an awaitest marker error: reported when the test runs
    if settings.mode is Mode.STRICT and not options.marked:
        return
    if foreign_framework(definition, marked=marked) is not None:
        return
    values = _loop_factory_params(definition, options, settings)
    if values:
        metafunc.fixturenames.append(FACTORY_PARAM)
        metafunc.parametrize(FACTORY_PARAM, values)


def _loop_factory_params(
    definition: pytest.Item, options: MarkerOptions, settings: Settings
) -> list[Any]:
    """Return the loop-factory parameters of one async test (none: no parametrization)."""
    hooked = _pytest_asyncio.hook_factories(definition)
    if hooked is None:
        if options.factory_names is not None:
            _fail(_pytest_asyncio.no_hook_error(definition.nodeid))
        factories = options.loop_factories or settings.loop_factories
        if len(factories) < 2:
            return []
        return [pytest.param(factory, id=factory.id) for factory in factories]
    names = options.factory_names or tuple(hooked)
    if len(names) == 1 and names[0] in hooked:  # one factory: no id, as in pytest-asyncio
        return [pytest.param(LoopFactory(names[0], hooked[names[0]]), id=pytest.HIDDEN_PARAM)]
    return [
        pytest.param(LoopFactory(name, hooked[name]), id=name)
        if name in hooked
        else pytest.param(
            None,
            id=name,
            marks=pytest.mark.skip(reason=_pytest_asyncio.unavailable_reason(name, list(hooked))),
        )
        for name in names
    ]


def pytest_collection_modifyitems(session: pytest.Session, items: list[pytest.Item]) -> None:
    """Refuse an `event_loop` fixture; fail async tests on plain unittest classes."""
    override = _compat.user_fixture_location(session, "event_loop")
    if override is not None:
        raise pytest.UsageError(_EVENT_LOOP_REMOVED.format(where=override))
    for item in items:
        error = _xunit.unittest_async_error(item)
        if error is not None:
            item.runtest = functools.partial(pytest.fail, error, pytrace=False)  # type: ignore[method-assign]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Remember the current test; report a bad marker or loop conflict as a setup error."""
    state = item.config.stash[STATE_KEY]
    state.current_item = item
    plan = state.planner.item_plan(item)
    if plan.error is not None:
        _fail(plan.error)
    try:
        state.loops.check_factory(plan.owner, plan.factory, item.nodeid)
        state.check_virtual_time(item)
    except ConfigError as exc:
        _fail(str(exc))
    # Sync code of the test and its fixtures sees the test's loop as the current one.
    # A loop not yet open opens before the test's first fixture (the item is not set
    # up yet here, so its loop could not be registered for teardown).
    opened = state.loops.make_current(plan.owner)
    # A policy override makes the loop, so the loop waits for that fixture.
    state.loop_pending = item if plan.claimed and not opened and plan.policy is None else None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(
    fixturedef: _compat.FixtureDef[Any], request: _compat.SubRequest
) -> Generator[None, object, object]:
    """Lend pytest a sync stand-in for an async fixture while it sets the fixture up."""
    __tracebackhide__ = True
    state = request.config.stash[STATE_KEY]
    if state.loop_pending is not None:
        item, state.loop_pending = state.loop_pending, None
        try:
            state.item_runner(item)
        except ConfigError as exc:
            _fail(str(exc))
    if fixturedef.argname == _pytest_asyncio.POLICY_FIXTURE and _pytest_asyncio.is_override(
        fixturedef
    ):
        policy = yield  # warn once it is set up: an error-filtered warning must not undo that
        warnings.warn(
            pytest.PytestDeprecationWarning(_pytest_asyncio.POLICY_OVERRIDE_DEPRECATED),
            stacklevel=1,
        )
        return policy
    planner = state.planner
    spec = planner.spec(fixturedef)
    if not spec.is_async:
        if not spec.ours_in_strict:
            return (yield)
        # A sync fixture made with awaitest.fixture / pytest_asyncio.fixture: its loop is current.
        func = _compat.resolve_fixture_function(fixturedef, request)
        runner = _fixture_runner(state, fixturedef, request)
        stand_in = with_current_loop(func, runner, state.loops, fixturedef.argname)
        with _compat.fixture_function_replaced(fixturedef, stand_in):
            return (yield)
    if not planner.claims_fixture(fixturedef, _compat.request_item(request)):
        return (yield)
    error = check_fixture_loop_scope(fixturedef.argname, fixturedef.scope, spec.loop_scope)
    if error is not None:
        _fail(error)
    func = _compat.resolve_fixture_function(fixturedef, request)
    runner = _fixture_runner(state, fixturedef, request)
    with _compat.fixture_function_replaced(fixturedef, adapt(spec.kind, func, runner, request)):
        return (yield)


def _fixture_runner(
    state: State, fixturedef: _compat.FixtureDef[Any], request: _compat.SubRequest
) -> LoopRunner:
    __tracebackhide__ = True
    try:
        return state.fixture_runner(fixturedef, request)
    except ConfigError as exc:
        _fail(str(exc))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an async test on its loop."""
    __tracebackhide__ = True
    state = pyfuncitem.config.stash[STATE_KEY]
    plan = state.planner.item_plan(pyfuncitem)
    if not plan.claimed:
        if plan.sync_marked:
            pyfuncitem.warn(_pytest_asyncio.sync_test_warning(pyfuncitem))
        return None
    if plan.kind is Kind.ASYNCGEN:
        msg = (
            f"{pyfuncitem.nodeid}: the test is an async generator function (it contains "
            "'yield'), so it can't run as a test. Remove the yield; to share setup, move it "
            "into a fixture."
        )
        _fail(msg)
    state.loop_pending = None
    try:
        runner = state.item_runner(pyfuncitem)
    except ConfigError as exc:
        _fail(str(exc))
    if plan.kind is Kind.HYPOTHESIS:
        _run_hypothesis_examples_on(runner, pyfuncitem)
        return None  # pytest calls the @given wrapper, which now runs each example on our loop
    funcargs = pyfuncitem.funcargs
    testargs = {arg: funcargs[arg] for arg in pyfuncitem._fixtureinfo.argnames}
    try:
        runner.run_test(pyfuncitem.obj(**testargs), contextvars.copy_context())
    except FixtureError as exc:  # the loop could not run the test: say which test
        _fail(f"{pyfuncitem.nodeid}: {exc}")
    except (RuntimeError, ValueError) as exc:
        if _hints.is_loop_mismatch(exc):
            hint = _hints.loop_mismatch_hint(state, pyfuncitem, runner)
            raise LoopMismatchError(hint) from exc
        raise
    return True


def _run_hypothesis_examples_on(runner: Any, item: pytest.Function) -> None:
    hypothesis_handle = item.obj.hypothesis
    current = hypothesis_handle.inner_test
    if getattr(current, "_awaitest_runner", None) is runner:
        return
    inner = getattr(current, "_awaitest_inner", current)

    @functools.wraps(inner)
    def run_example(*args: Any, **kwargs: Any) -> None:
        __tracebackhide__ = True
        runner.run_test(inner(*args, **kwargs), contextvars.copy_context())

    run_example._awaitest_runner = runner  # type: ignore[attr-defined]
    run_example._awaitest_inner = inner  # type: ignore[attr-defined]
    hypothesis_handle.inner_test = run_example


_pytest_asyncio.install_shim()
