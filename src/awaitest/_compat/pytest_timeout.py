"""pytest-timeout's names: the `timeout` marker, ini key and `--timeout`.

The seeds and many projects write `@pytest.mark.timeout(5)` and `timeout = 30`.
Where pytest-timeout is installed it owns those names, and awaitest takes
over only async tests, through its `pytest_timeout_set_timer` hook, so an
expired async test is cancelled instead of the process being killed. Where it
is not installed, awaitest registers the names itself and enforces them for
every test.
"""

from __future__ import annotations

import os
from typing import Any, Final

import pytest

from .. import _compat
from .._config import parse_seconds
from .._errors import ConfigError

PLUGIN_NAME: Final = "timeout"
MARKER: Final = "timeout"
INI_SOURCE: Final = "the timeout ini key"
_MARKER_DOC: Final = (
    "timeout(timeout): fail the test if it runs longer than timeout seconds "
    "(pytest-timeout's marker, served by awaitest)"
)


def expected(pluginmanager: pytest.PytestPluginManager) -> bool:
    """Whether pytest-timeout is, or is about to be, active in this run."""
    return _compat.plugin_expected(pluginmanager, PLUGIN_NAME, "pytest-timeout")


def add_options(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Register `--timeout` and the `timeout` ini key, unless pytest-timeout will."""
    if expected(pluginmanager):
        return
    group = parser.getgroup("timeout", "timeouts (pytest-timeout's options, served by awaitest)")
    group.addoption(
        "--timeout",
        dest="timeout",
        default=None,
        metavar="SECONDS",
        help="timeout of each test in seconds (0: none); async tests are cancelled, not killed.",
    )
    parser.addini("timeout", "timeout of each test in seconds (0: none)", default=None)


def add_marker(config: pytest.Config) -> None:
    """Document the `timeout` marker, unless pytest-timeout does."""
    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.addinivalue_line("markers", _MARKER_DOC)


def session_timeout(config: pytest.Config) -> tuple[str, str] | None:
    """Return pytest-timeout's session default and where it was set, if awaitest serves it."""
    if config.pluginmanager.has_plugin(PLUGIN_NAME):
        return None  # pytest-timeout resolves these and tells awaitest per test
    value = config.getoption("timeout", None)
    if value is not None:
        return str(value), "--timeout"
    env = os.environ.get("PYTEST_TIMEOUT")
    if env:
        return env, "PYTEST_TIMEOUT"
    ini = config.getini("timeout")
    if ini:
        return str(ini), INI_SOURCE
    return None


def command_line_set(config: pytest.Config) -> bool:
    """Whether pytest-timeout's timeout was given on the command line or in the environment."""
    return config.getoption("timeout", None) is not None or bool(os.environ.get("PYTEST_TIMEOUT"))


def marker_timeout(item: pytest.Item) -> tuple[float, str] | None:
    """Return the `timeout` marker's value, if the test has one and awaitest serves it.

    Raises:
        ConfigError: The marker's value is not a number of seconds.
    """
    if item.config.pluginmanager.has_plugin(PLUGIN_NAME):
        return None
    mark = item.get_closest_marker(MARKER)
    if mark is None:
        return None
    value: Any = mark.args[0] if mark.args else mark.kwargs.get("timeout")
    where = f"{item.nodeid}: @pytest.mark.timeout({value!r})"
    if value is None:
        msg = (
            f"{item.nodeid}: @pytest.mark.timeout needs a number of seconds, "
            "e.g. @pytest.mark.timeout(10)."
        )
        raise ConfigError(msg)
    return parse_seconds(value, where), "@pytest.mark.timeout"
