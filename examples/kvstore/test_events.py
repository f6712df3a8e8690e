"""Change events, collected by a background task that a TaskGroup fixture owns."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest
from kv.client import KVClient, Subscription
from kv.server import KVServer

if sys.version_info < (3, 11):  # pragma: no cover
    pytest.skip("asyncio.TaskGroup is new in Python 3.11", allow_module_level=True)


async def _collect(subscription: Subscription, events: asyncio.Queue[str]) -> None:
    async for event in subscription:
        await events.put(event)


@pytest.fixture
async def events(server: KVServer, client: KVClient) -> AsyncIterator[asyncio.Queue[str]]:
    """Collect the server's change events from when the test's client is ready.

    The collecting task lives in a TaskGroup held across the yield: if it
    crashed while a test ran, awaitest would cancel the test and report the
    crash. Closing the subscription at teardown ends the task.
    """
    queue: asyncio.Queue[str] = asyncio.Queue()
    subscription = await Subscription.open(server.address)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(_collect(subscription, queue))
        yield queue
        await subscription.close()


async def next_event(events: asyncio.Queue[str]) -> str:
    """Return the next event; fail if none comes within a second."""
    return await asyncio.wait_for(events.get(), timeout=1)


async def test_set_publishes_an_event(events: asyncio.Queue[str], client: KVClient) -> None:
    await client.set("colour", "green")
    assert await next_event(events) == "set colour green"


async def test_events_arrive_in_order(events: asyncio.Queue[str], client: KVClient) -> None:
    await client.set("a", "1")
    await client.incr("a")
    await client.delete("a")
    assert [await next_event(events) for _ in range(3)] == ["set a 1", "set a 2", "del a"]


async def test_deleting_a_missing_key_publishes_nothing(
    events: asyncio.Queue[str], client: KVClient
) -> None:
    await client.delete("ghost")
    await client.set("marker", "x")
    assert await next_event(events) == "set marker x"
