"""Fixtures for the key-value store's tests: one server for the session, a client per test.

`server` is session-scoped and async: it starts once, on 127.0.0.1 and a
free port, and every test talks to it. Its connections are bound to the
event loop they were opened on; awaitest runs the session fixture, the
per-test `client` and the tests that use them on one loop, so this needs no
loop configuration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from kv.client import KVClient
from kv.server import KVServer


@pytest.fixture(scope="session")
async def server() -> AsyncIterator[KVServer]:
    """Start the key-value server every test shares."""
    server = await KVServer.start()
    yield server
    await server.close()


@pytest.fixture
async def client(server: KVServer) -> AsyncIterator[KVClient]:
    """Connect to the shared server, and empty it for the test."""
    async with await KVClient.connect(server.address) as client:
        await client.flush()
        yield client
