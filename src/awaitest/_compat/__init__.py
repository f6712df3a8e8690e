"""The one place that touches pytest internals.

awaitest needs a few things pytest does not make public: the fixture
definitions an item's closure resolves to, how pytest binds a fixture method
to the test instance, the node a package-scoped fixture lives on, swapping a
fixture's function for one setup, and adding a fixture to a test's closure.
Each is wrapped here so a pytest upgrade breaks one module, not the plugin.
The names pytest-asyncio gave users live next door, in `pytest_asyncio`.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from _pytest import fixtures as _fixtures
from _pytest.pathlib import bestrelpath
from _pytest.unittest import TestCaseFunction

FixtureDef = _fixtures.FixtureDef
SubRequest = _fixtures.SubRequest

__all__ = [
    "FixtureDef",
    "SubRequest",
    "TestCaseFunction",
    "add_finalizer",
    "add_to_closure",
    "cached_value",
    "closure_fixturedefs",
    "fixture_function_replaced",
    "fixture_scope_node",
    "registered_fixturedefs",
    "request_item",
    "resolve_fixture_function",
    "user_fixture_location",
    "visible_fixturedefs",
]


def closure_fixturedefs(item: pytest.Item) -> Iterator[FixtureDef[Any]]:
    """Yield every fixture definition the item's fixture closure may use."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return
    name2defs: dict[str, Sequence[FixtureDef[Any]]] = info.name2fixturedefs
    for name in info.names_closure:
        yield from name2defs.get(name, ())


def resolve_fixture_function(
    fixturedef: FixtureDef[Any], request: pytest.FixtureRequest
) -> Callable[..., Any]:
    """Return the fixture's function, bound to the test instance as pytest would."""
    replaced = _REPLACED.get(fixturedef)
    if replaced is None:
        return _fixtures.resolve_fixture_function(fixturedef, request)
    # A concurrent test's stand-in is in place: resolve the fixture's own function.
    current = fixturedef.func
    fixturedef.func = replaced[0]  # type: ignore[misc]
    try:
        return _fixtures.resolve_fixture_function(fixturedef, request)
    finally:
        fixturedef.func = current  # type: ignore[misc]


@contextlib.contextmanager
def fixture_function_replaced(
    fixturedef: FixtureDef[Any], func: Callable[..., Any]
) -> Iterator[None]:
    """Make pytest call `func` instead of the fixture's function, for one setup."""
    # Concurrent tests may set up the same fixture definition at once: the first
    # replacement remembers the original, the last one out puts it back.
    original, count = _REPLACED.get(fixturedef, (fixturedef.func, 0))
    _REPLACED[fixturedef] = (original, count + 1)
    fixturedef.func = func  # type: ignore[misc]  # Final in pytest's annotations
    try:
        yield
    finally:
        original, count = _REPLACED.pop(fixturedef)
        if count > 1:
            _REPLACED[fixturedef] = (original, count - 1)
        else:
            fixturedef.func = original  # type: ignore[misc]


_REPLACED: dict[FixtureDef[Any], tuple[Callable[..., Any], int]] = {}


def add_finalizer(node: Any, finalizer: Callable[[], object]) -> None:
    """Run `finalizer` when pytest tears `node` down.

    If the node is already being torn down (a loop first needed by an async
    teardown hook), the finalizer runs with the session's teardown instead.
    """
    stack = node.session._setupstate.stack
    (node if node in stack else node.session).addfinalizer(finalizer)


def installed(distribution: str) -> bool:
    """Whether a distribution (e.g. "pytest-timeout") is installed."""
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def plugin_expected(
    pluginmanager: pytest.PytestPluginManager, plugin: str, distribution: str
) -> bool:
    """Whether another plugin is, or is about to be, active in this run.

    Called from `pytest_addoption`, when setuptools plugins may not all be
    registered yet: installed and not blocked with `-p no:<plugin>` counts.
    """
    if pluginmanager.is_blocked(plugin):
        return False
    return pluginmanager.has_plugin(plugin) or installed(distribution)


def after_item_teardown(item: pytest.Item, fn: Callable[[], object]) -> None:
    """Run `fn` once every finalizer of `item` (its fixtures' teardown) has run.

    Call it before pytest sets the item up: pytest registers the item's own
    `teardown` method as its first finalizer, so it runs last.
    """
    original = item.teardown

    def teardown() -> None:
        try:
            original()
        finally:
            fn()

    item.teardown = teardown  # type: ignore[method-assign]


def add_lowest_warning_filter(config: pytest.Config, line: str) -> None:
    """Add a `filterwarnings` entry below every one the project wrote.

    pytest applies the ini's entries in order, each taking precedence over
    the ones before, so the first entry loses to any the project wrote.
    """
    lines = config.getini("filterwarnings")
    if isinstance(lines, list):
        lines.insert(0, line)  # pytest caches the list it returned: this is the one it applies


def registered_fixturedefs(session: pytest.Session, name: str) -> list[FixtureDef[Any]]:
    """Return every definition of fixture `name` registered so far, wherever it is visible."""
    manager: Any = session._fixturemanager
    if hasattr(manager, "_arg2node2fixturedefs"):  # pytest >= 9.1
        by_node = manager._arg2node2fixturedefs.get(name, {})
        return [d for defs in by_node.values() for d in defs]
    return list(manager._arg2fixturedefs.get(name, ()))


def user_fixture_location(session: pytest.Session, name: str) -> str | None:
    """Return where a project (not a plugin) defines a fixture `name`, as "file:line"."""
    for fixturedef in registered_fixturedefs(session, name):
        func = fixturedef.func
        code = getattr(getattr(func, "__func__", func), "__code__", None)
        if code is None:
            continue
        path = Path(code.co_filename)
        if session.config.rootpath in path.parents:
            return (
                f"{bestrelpath(session.config.invocation_params.dir, path)}:{code.co_firstlineno}"
            )
    return None


def visible_fixturedefs(metafunc: pytest.Metafunc, name: str) -> Sequence[FixtureDef[Any]]:
    """Return the definitions of fixture `name` a test could request, closest last."""
    manager: Any = metafunc.definition.session._fixturemanager
    return tuple(manager.getfixturedefs(name, metafunc.definition) or ())


def add_to_closure(
    metafunc: pytest.Metafunc, name: str, fixturedefs: Sequence[FixtureDef[Any]]
) -> None:
    """Make a test use fixture `name` as if it were autouse, params included."""
    if name not in metafunc.fixturenames:
        metafunc.fixturenames.append(name)
    metafunc._arg2fixturedefs[name] = fixturedefs
    # pytest prunes the closure back to what `initialnames` reach after generating tests.
    info = metafunc.definition._fixtureinfo
    if name not in info.initialnames:
        object.__setattr__(info, "initialnames", (*info.initialnames, name))


def cached_value(fixturedef: FixtureDef[Any]) -> Any:
    """Return a fixture's current value (it must be set up)."""
    cached = fixturedef.cached_result
    assert cached is not None, f"fixture {fixturedef.argname!r} is not set up"
    return cached[0]


def request_item(request: pytest.FixtureRequest) -> pytest.Item:
    """Return the test item on whose behalf a fixture is being set up."""
    item: pytest.Item = request._pyfuncitem
    return item


def fixture_scope_node(item: pytest.Item, scope: str, fixturedef: FixtureDef[Any] | None) -> Any:
    """Return the node a `scope`-scoped fixture instance (or loop) of `item` lives on.

    Mirrors `SubRequest.node`: a package-scoped fixture lives on the package
    that defines it, a class-scoped one used outside a class on the item.
    Without a fixture definition, "package" means the item's own package.
    """
    if scope == "function":
        return item
    if scope == "session":
        return item.session
    if scope == "package":
        if fixturedef is not None:
            return _fixtures.get_scope_package(item, fixturedef)
        package = item.getparent(pytest.Package)
        # pytest ties package-scoped fixtures of the rootdir's own package to the session;
        # a package loop there must live as long as they do.
        if package is None or package.path == item.config.rootpath:
            return item.session
        return package
    node_type = pytest.Class if scope == "class" else pytest.Module
    return item.getparent(node_type) or item
