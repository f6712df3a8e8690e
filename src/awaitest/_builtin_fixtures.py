"""The fixtures awaitest provides (the plugin module re-exports them for pytest).

Free-port fixtures and `event_loop_policy`, under the names pytest-asyncio
gave them, so suites that use them keep working; and `virtual_clock`.
"""

from __future__ import annotations

import socket

import pytest

from . import _ports
from ._clock import VirtualClock
from ._compat import pytest_asyncio as _pytest_asyncio
from ._errors import ConfigError


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


@pytest.fixture
def virtual_clock(request: pytest.FixtureRequest) -> VirtualClock:
    """Return the test's virtual clock; requesting it puts the test on virtual time.

    `advance(seconds)` moves time forward, `time()` reads it, and
    `autojump = False` stops time from jumping to the next timer by itself.
    """
    __tracebackhide__ = True
    from ._session import STATE_KEY  # the session module imports this one's names lazily

    item = request.node
    state = request.config.stash[STATE_KEY]
    if not isinstance(item, pytest.Item) or not state.planner.item_plan(item).claimed:
        msg = (
            f"{request.node.nodeid}: the virtual_clock fixture is for async tests awaitest "
            "runs; this test is not one. Make it 'async def' (in strict mode, mark it "
            "@pytest.mark.awaitest), or do not request virtual_clock."
        )
        pytest.fail(msg, pytrace=False)
    if not state.wants_virtual_time(item):
        msg = (
            f"{item.nodeid}: requests the virtual_clock fixture but turns virtual time off "
            "(virtual_time=False); remove one or the other."
        )
        pytest.fail(msg, pytrace=False)
    try:
        clock = state.clock(item, state.item_runner(item))
    except ConfigError as exc:
        pytest.fail(str(exc), pytrace=False)
    assert clock is not None
    return clock
