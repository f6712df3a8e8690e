"""Many requests in flight at once, from one client or many."""

from __future__ import annotations

import asyncio

from kv.client import KVClient
from kv.server import KVServer


async def test_increments_from_many_clients_are_not_lost(
    server: KVServer, client: KVClient
) -> None:
    clients = await asyncio.gather(*(KVClient.connect(server.address) for _ in range(10)))
    try:
        await asyncio.gather(*(c.incr("hits") for c in clients for _ in range(20)))
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    assert await client.get("hits") == "200"


async def test_one_client_shared_by_many_tasks_pairs_each_reply_with_its_request(
    client: KVClient,
) -> None:
    await asyncio.gather(*(client.set(f"key{i}", f"value{i}") for i in range(50)))
    values = await asyncio.gather(*(client.get(f"key{i}") for i in range(50)))
    assert values == [f"value{i}" for i in range(50)]


async def test_a_slow_reader_does_not_block_other_clients(
    server: KVServer, client: KVClient
) -> None:
    _reader, writer = await asyncio.open_connection(*server.address)
    try:
        writer.write(b"PI")  # half a request, never finished
        await writer.drain()
        assert await asyncio.wait_for(client.ping(), timeout=1)
    finally:
        writer.close()
        await writer.wait_closed()
