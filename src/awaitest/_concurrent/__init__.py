"""Concurrent tests: opted-in async tests run together on one loop.

`fibers` gives several tests' sync pytest protocols turns around one event
loop; `plugin` decides which tests run together, `group` runs them, `owners`
tells their tasks apart and `output` their output. None of it is imported
unless a test of the session opted in: `Gate` decides at the first test.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Final

import pytest

if TYPE_CHECKING:
    from .._session import State
    from .fibers import Fiber

#: The fiber whose test a piece of code runs for, in the contexts of its tasks and callbacks.
FIBER: Final[contextvars.ContextVar[Fiber | None]] = contextvars.ContextVar(
    "awaitest_fiber", default=None
)


class Gate:
    """At the first test, registers the concurrency plugin if any test opted in (a plugin).

    Args:
        state: The session state (its planner knows which tests opted in).
        config: The pytest config.
    """

    def __init__(self, state: State, config: pytest.Config) -> None:
        self.state = state
        self.config = config

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> object:
        """Step aside for good, handing the first test to the concurrency plugin if needed."""
        pluginmanager = self.config.pluginmanager
        pluginmanager.unregister(self)
        planner = self.state.planner
        planner.item_plan(item)  # plans the whole session
        if not any(planner.item_plan(i).concurrent for i in item.session.items):
            return None
        from .plugin import Concurrency

        plugin = Concurrency(self.state, self.config)
        pluginmanager.register(plugin, "awaitest-concurrency")
        return plugin.pytest_runtest_protocol(item, nextitem)
