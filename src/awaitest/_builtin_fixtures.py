"""The fixtures awaitest provides (the plugin module re-exports them for pytest).

Free-port fixtures and `event_loop_policy`, under the names pytest-asyncio
gave them, so suites that use them keep working.
"""

from __future__ import annotations

import socket

import pytest

from . import _ports
from ._compat import pytest_asyncio as _pytest_asyncio


@pytest.fixture
def unused_tcp_port() -> int:
    """Return a free localhost TCP port."""
    return _ports.unused_port(socket.SOCK_STREAM)


@pytest.fixture
def unused_udp_port() -> int:
    """Return a free localhost UDP port."""
    return _ports.unused_port(socket.SOCK_DGRAM)


@pytest.fixture(scope="session")
def unused_tcp_port_factory() -> _ports.PortFactory:
    """Return a callable giving a different free localhost TCP port on each call."""
    return _ports.PortFactory(socket.SOCK_STREAM)


@pytest.fixture(scope="session")
def unused_udp_port_factory() -> _ports.PortFactory:
    """Return a callable giving a different free localhost UDP port on each call."""
    return _ports.PortFactory(socket.SOCK_DGRAM)


@pytest.fixture(scope="session")
def event_loop_policy() -> object:
    """Return asyncio's event loop policy (pytest-asyncio's fixture).

    Overriding it still chooses the loops of the tests it reaches, with
    pytest-asyncio's deprecation warning: choose loops with the
    `awaitest_loop_factory` ini key or the `pytest_asyncio_loop_factories` hook.
    """
    return _pytest_asyncio.current_policy()
