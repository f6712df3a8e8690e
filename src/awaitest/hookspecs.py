"""Hooks awaitest offers to other plugins and conftest files.

`pytest_asyncio_loop_factories` is pytest-asyncio's hook, served under its
own name so suites that implement it keep working. It is registered only when
the real pytest-asyncio is not active (which registers it itself).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping

import pytest


@pytest.hookspec(firstresult=True)
def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]] | None:
    """Return the event loop factories an async test runs on, by name.

    Called once per async test function (with its un-parametrized
    definition), through the test's own hook proxy, so a conftest's
    implementation applies to the tests below it. Several factories
    parametrize the test, with the names as ids; `mark.asyncio(loop_factories=[...])`
    picks some of them.

    Args:
        config: The pytest config.
        item: The test function's definition.

    Returns:
        A non-empty mapping of names to zero-argument loop factories, or None.
    """


class AwaitestHooks:
    """awaitest's own hooks (always registered)."""

    @staticmethod
    @pytest.hookspec
    def pytest_awaitest_unsafe_fixtures(config: pytest.Config) -> Iterable[str]:
        """Return fixtures that make a concurrent test run alone.

        A fixture is unsafe to share the loop with other running tests when
        it changes process-wide state for its test (patching, capturing,
        changing directory): a plugin providing one names it here. Every
        implementation's names count, with the `awaitest_unsafe_fixtures` ini
        key's and awaitest's own list (see docs/concurrency.md).

        Args:
            config: The pytest config.

        Returns:
            Fixture names.
        """
        raise NotImplementedError
