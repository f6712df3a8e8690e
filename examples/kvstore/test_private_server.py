"""A class whose tests each get a private server, from an async setup_method."""

from __future__ import annotations

import asyncio

from kv.client import KVClient
from kv.server import KVServer


class TestPrivateServer:
    """awaitest awaits async setup_method/teardown_method on the test's own loop."""

    server: KVServer
    client: KVClient

    async def setup_method(self) -> None:
        self.server = await KVServer.start()
        self.client = await KVClient.connect(self.server.address)

    async def teardown_method(self) -> None:
        await self.client.close()
        await self.server.close()

    async def test_a_new_server_is_empty(self) -> None:
        assert await self.client.size() == 0

    async def test_the_server_keeps_data_in_memory(self) -> None:
        await self.client.set("k", "v")
        assert self.server.data == {"k": "v"}

    async def test_close_disconnects_clients(self) -> None:
        await self.server.close()
        try:
            await asyncio.wait_for(self.client.ping(), timeout=1)
        except ConnectionError:
            return
        raise AssertionError("ping succeeded after the server closed")
