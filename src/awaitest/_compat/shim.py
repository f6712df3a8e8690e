"""The `pytest_asyncio` module awaitest serves where pytest-asyncio is not installed.

`import pytest_asyncio`, `pytest_asyncio.fixture`, `pytest_asyncio.is_async_test`
and `pytest_plugins = ["pytest_asyncio"]` keep working after a suite swaps
pytest-asyncio for awaitest. Installed into `sys.modules` by the plugin; it never
shadows a real pytest-asyncio.
"""

from __future__ import annotations

import sys
from typing import Final

import pytest

from .._fixtures import fixture

#: The pytest-asyncio release whose documented behaviour this shim provides.
__version__: Final = "1.5.0"
__awaitest_shim__: Final = True

__all__ = ("fixture", "is_async_test")

#: `pytest_asyncio.plugin` is this module too.
plugin = sys.modules[__name__]


def is_async_test(item: pytest.Item) -> bool:
    """Return whether awaitest runs `item` as an async test (pytest-asyncio's `is_async_test`).

    Safe to call from `pytest_collection_modifyitems`: it plans nothing.
    """
    from .._session import STATE_KEY

    state = item.config.stash.get(STATE_KEY, None)
    return state is not None and state.planner.is_async_test(item)
