"""pytest-asyncio's names, served by awaitest.

A suite written for pytest-asyncio keeps its configuration: the `asyncio`
marker, the `asyncio_*` ini keys and `--asyncio-*` options, fixtures made with
`pytest_asyncio.fixture`, and `import pytest_asyncio` itself (the shim in
`_compat.shim`, installed only where pytest-asyncio is not). This module
registers those names, reads them, and translates them into awaitest's own
settings; it also refuses to run half-way beside a real, active pytest-asyncio.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import pytest

from .. import _compat, _scope
from .._errors import ConfigError

#: pytest-asyncio's plugin name, as `-p no:asyncio` spells it.
PLUGIN_NAME: Final = "asyncio"
MARKER: Final = "asyncio"
#: `asyncio_default_fixture_loop_scope` value meaning "each fixture's own scope".
FIXTURE_SCOPE: Final = "fixture-scope"

#: pytest-asyncio's deprecation text for the marker's `scope` argument (kept verbatim:
#: suites filter warnings by message).
SCOPE_KWARG_DEPRECATED: Final = (
    'The "scope" keyword argument to the asyncio marker has been deprecated. '
    'Please use the "loop_scope" argument instead.'
)

BOTH_ACTIVE: Final = (
    "awaitest and pytest-asyncio are both active, and both would run your async tests. "
    "Keep one: add '-p no:asyncio' to your pytest options (addopts) to let awaitest run them "
    "(pytest_asyncio.fixture and the asyncio marker keep working), or '-p no:awaitest' to "
    "let pytest-asyncio run them."
)


def _real_installed() -> bool:
    return _compat.installed("pytest-asyncio")


def real_plugin_expected(pluginmanager: pytest.PytestPluginManager) -> bool:
    """Whether the real pytest-asyncio plugin is, or is about to be, active in this run."""
    return _compat.plugin_expected(pluginmanager, PLUGIN_NAME, "pytest-asyncio")


def install_shim() -> None:
    """Make `import pytest_asyncio` work when pytest-asyncio is not installed."""
    if "pytest_asyncio" in sys.modules or _real_installed():
        return
    from . import shim

    sys.modules["pytest_asyncio"] = shim
    sys.modules["pytest_asyncio.plugin"] = shim  # `import pytest_asyncio.plugin` works too


def add_options(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Register pytest-asyncio's options and ini keys, unless the real plugin will."""
    if real_plugin_expected(pluginmanager):
        return
    group = parser.getgroup("asyncio", "pytest-asyncio options (served by awaitest)")
    group.addoption(
        "--asyncio-mode",
        dest="asyncio_mode",
        default=None,
        metavar="MODE",
        help="pytest-asyncio's name for --awaitest-mode: 'auto' or 'strict'.",
    )
    group.addoption(
        "--asyncio-debug",
        dest="asyncio_debug",
        action="store_true",
        default=None,
        help="run event loops in asyncio debug mode.",
    )
    parser.addini("asyncio_mode", "pytest-asyncio's name for awaitest_mode", default=None)
    parser.addini("asyncio_debug", "run event loops in asyncio debug mode", type="bool")
    parser.addini(
        "asyncio_default_fixture_loop_scope",
        "loop scope of async fixtures that set none (pytest-asyncio)",
        default=None,
    )
    parser.addini(
        "asyncio_default_test_loop_scope",
        "loop scope of async tests that set none (pytest-asyncio)",
        default=None,
    )


@dataclasses.dataclass(frozen=True)
class CompatSettings:
    """pytest-asyncio's settings, validated.

    Attributes:
        mode: `asyncio_mode` / `--asyncio-mode`, or None if unset.
        fixture_loop_scope: `asyncio_default_fixture_loop_scope` (a loop
            scope or "fixture-scope"), or None if unset.
        test_loop_scope: `asyncio_default_test_loop_scope`, or None if unset.
        debug: `asyncio_debug` / `--asyncio-debug`.
    """

    mode: str | None = None
    fixture_loop_scope: str | None = None
    test_loop_scope: str | None = None
    debug: bool = False


def _ini(config: pytest.Config, name: str) -> Any:
    try:
        return config.getini(name)
    except ValueError:  # not registered: the real pytest-asyncio owns the name
        return None


def _option(config: pytest.Config, name: str) -> Any:
    return config.getoption(name, default=None)


def _scope_value(key: str, value: str | None, extra: tuple[str, ...] = ()) -> str | None:
    # Messages for pytest-asyncio's own keys are pytest-asyncio's, word for word.
    if not value:
        return None
    value = value.strip()
    if value not in (*_scope.LOOP_SCOPES, *extra):
        msg = f"{value!r} is not a valid {key}. Valid scopes are: {', '.join(_scope.LOOP_SCOPES)}."
        raise ConfigError(msg)
    return value


def read_settings(config: pytest.Config) -> CompatSettings:
    """Read and validate pytest-asyncio's settings.

    Raises:
        ConfigError: A value is not allowed.
    """
    mode = _option(config, "asyncio_mode") or _ini(config, "asyncio_mode")
    if mode is not None and mode.strip() not in ("auto", "strict"):
        msg = f"{mode!r} is not a valid asyncio_mode. Valid modes: auto, strict."
        raise ConfigError(msg)
    return CompatSettings(
        mode=mode.strip() if mode else None,
        fixture_loop_scope=_scope_value(
            "asyncio_default_fixture_loop_scope",
            _ini(config, "asyncio_default_fixture_loop_scope"),
            (FIXTURE_SCOPE,),
        ),
        test_loop_scope=_scope_value(
            "asyncio_default_test_loop_scope", _ini(config, "asyncio_default_test_loop_scope")
        ),
        debug=bool(_option(config, "asyncio_debug") or _ini(config, "asyncio_debug")),
    )


class MarkerError(ConfigError):
    """An `asyncio` marker has wrong arguments (a collection error, as in pytest-asyncio)."""


def marker_kwargs(
    args: tuple[Any, ...], kwargs: Mapping[str, Any], nodeid: str, *, warn: bool
) -> dict[str, Any]:
    """Translate one `asyncio` marker's arguments into `awaitest` marker arguments.

    Args:
        args: The marker's positional arguments.
        kwargs: The marker's keyword arguments.
        nodeid: The test, for messages.
        warn: Emit the deprecation warning for `scope=` (once per test function).

    Raises:
        MarkerError: The marker's arguments are not what pytest-asyncio accepts.
    """
    if args or set(kwargs) - {"loop_scope", "scope", "loop_factories"}:
        msg = (
            f"{nodeid}: mark.asyncio accepts only keyword arguments 'loop_scope' and "
            "'loop_factories'."
        )
        raise MarkerError(msg)
    if "scope" in kwargs:
        if "loop_scope" in kwargs:
            msg = (
                f'{nodeid}: An asyncio pytest marker defines both "scope" and '
                '"loop_scope", but it should only use "loop_scope".'
            )
            raise MarkerError(msg)
        if warn:
            warnings.warn(pytest.PytestDeprecationWarning(SCOPE_KWARG_DEPRECATED), stacklevel=2)
    translated: dict[str, Any] = {}
    if "loop_factories" in kwargs:
        names = kwargs["loop_factories"]
        if (
            isinstance(names, str)
            or not isinstance(names, Sequence)
            or not names
            or not all(isinstance(name, str) and name for name in names)
        ):
            msg = (
                f"{nodeid}: mark.asyncio 'loop_factories' must be a non-empty sequence of strings."
            )
            raise MarkerError(msg)
        translated["factory_names"] = tuple(names)
    loop_scope = kwargs.get("loop_scope") or kwargs.get("scope")
    if loop_scope is not None:
        if not _scope.is_scope(loop_scope):
            msg = (
                f"{nodeid}: mark.asyncio got an unexpected loop scope value {loop_scope!r}. "
                f"Valid scopes are: {', '.join(_scope.LOOP_SCOPES)}."
            )
            raise MarkerError(msg)
        translated["loop_scope"] = loop_scope
    return translated


def fixture_loop_scope(func: Any) -> tuple[bool, str | None]:
    """Return whether a real `pytest_asyncio.fixture` made `func`, and its loop scope."""
    func = getattr(func, "__func__", func)
    return bool(getattr(func, "_force_asyncio_fixture", False)), getattr(func, "_loop_scope", None)


def sync_test_warning(item: pytest.Item) -> pytest.PytestWarning:
    """Return pytest-asyncio's warning for an `asyncio` mark on a sync test."""
    return pytest.PytestWarning(
        f"The test {item} is marked with '@pytest.mark.asyncio' but it is not an async "
        "function. Please remove the asyncio mark. If the test is not marked explicitly, "
        "check for global marks applied via 'pytestmark'."
    )


INVALID_HOOK_RESULT: Final = (
    "pytest_asyncio_loop_factories must return a non-empty mapping of factory names to callables."
)


def factory_hook_implemented(config: pytest.Config) -> bool:
    """Whether a plugin or conftest implements `pytest_asyncio_loop_factories` at all."""
    hook = getattr(config.hook, "pytest_asyncio_loop_factories", None)
    return hook is not None and bool(hook.get_hookimpls())


def hook_factories(definition: Any) -> dict[str, Callable[[], Any]] | None:
    """Ask the `pytest_asyncio_loop_factories` hook for a test's loop factories.

    Returns:
        The factories by name, or None if no implementation of the hook exists.

    Raises:
        pytest.UsageError: An implementation returned something else than a
            non-empty mapping of names to callables.
    """
    # No implementation registered anywhere (conftests included): skip the per-node proxy.
    if not factory_hook_implemented(definition.config):
        return None
    hook = definition.ihook.pytest_asyncio_loop_factories
    if not hook.get_hookimpls():
        return None
    result = hook(config=definition.config, item=definition)
    if not isinstance(result, Mapping) or not result:
        raise pytest.UsageError(INVALID_HOOK_RESULT)
    factories = dict(result)  # a snapshot: later changes to the hook's mapping don't count
    if not all(isinstance(k, str) and k and callable(v) for k, v in factories.items()):
        raise pytest.UsageError(INVALID_HOOK_RESULT)
    return factories


def no_hook_error(nodeid: str) -> str:
    """Return pytest-asyncio's error for `loop_factories` with no hook to name them."""
    return (
        f"{nodeid}: mark.asyncio 'loop_factories' requires at least one "
        "pytest_asyncio_loop_factories hook implementation."
    )


def unavailable_reason(name: str, available: Sequence[str]) -> str:
    """Return pytest-asyncio's skip reason for a factory name the hook did not return."""
    return f"Loop factory {name!r} is not available. Available factories: {', '.join(available)}."


#: pytest-asyncio's fixture naming the policy that creates event loops (deprecated there).
POLICY_FIXTURE: Final = "event_loop_policy"

POLICY_OVERRIDE_DEPRECATED: Final = (
    'Overriding the "event_loop_policy" fixture is deprecated and will be removed in a future '
    'version of pytest-asyncio. Use the "pytest_asyncio_loop_factories" hook to customize '
    "event loop creation."
)


def current_policy() -> Any:
    """Return asyncio's event loop policy (deprecated API on Python 3.14: no warning here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return asyncio.get_event_loop_policy()


def _default_policy_type() -> type[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # policies: deprecated in 3.14
        return asyncio.DefaultEventLoopPolicy


#: The policy class asyncio creates when none was set.
DEFAULT_POLICY_TYPE: Final = _default_policy_type()


def policy_object() -> Any:
    """Asyncio's event loop policy as set, or None: read without creating or warning."""
    return getattr(asyncio.events, "_event_loop_policy", None)


def set_policy(policy: Any) -> None:
    """Set asyncio's event loop policy (deprecated API on Python 3.14: no warning here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_event_loop_policy(policy)


def is_override(fixturedef: Any) -> bool:
    """Whether a definition of `event_loop_policy` is the project's, not awaitest's."""
    module = getattr(fixturedef.func, "__module__", None) or ""
    return not module.startswith("awaitest.")
