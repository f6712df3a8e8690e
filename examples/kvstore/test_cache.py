"""The price cache, with the upstream API replaced by an AsyncMock."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from unittest.mock import AsyncMock

import pytest
from kv.cache import PriceCache
from kv.client import KVClient


@pytest.fixture
def upstream() -> AsyncMock:
    """Stand in for the upstream price API: every product costs 9.99."""
    return AsyncMock(return_value=Decimal("9.99"))


@pytest.fixture
async def cache(client: KVClient, upstream: AsyncMock) -> PriceCache:
    """Make a price cache on the shared store."""
    assert await client.ping()
    return PriceCache(client, upstream)


async def test_a_miss_asks_the_upstream_and_stores_the_price(
    cache: PriceCache, upstream: AsyncMock, client: KVClient
) -> None:
    assert await cache.price("sku-1") == Decimal("9.99")
    upstream.assert_awaited_once_with("sku-1")
    assert await client.get("price:sku-1") == "9.99"


async def test_a_hit_does_not_ask_the_upstream(
    cache: PriceCache, upstream: AsyncMock, client: KVClient
) -> None:
    await client.set("price:sku-2", "4.50")
    assert await cache.price("sku-2") == Decimal("4.50")
    upstream.assert_not_awaited()


async def test_concurrent_misses_share_one_upstream_call(
    cache: PriceCache, upstream: AsyncMock
) -> None:
    prices = await asyncio.gather(*(cache.price("sku-3") for _ in range(10)))
    assert prices == [Decimal("9.99")] * 10
    upstream.assert_awaited_once_with("sku-3")


async def test_an_upstream_failure_is_not_cached(cache: PriceCache, upstream: AsyncMock) -> None:
    upstream.side_effect = [ConnectionError("upstream down"), Decimal("1.25")]
    with pytest.raises(ConnectionError, match="upstream down"):
        await cache.price("sku-4")
    assert await cache.price("sku-4") == Decimal("1.25")
    assert upstream.await_count == 2


async def test_forget_makes_the_next_lookup_ask_again(
    cache: PriceCache, upstream: AsyncMock
) -> None:
    await cache.price("sku-5")
    await cache.forget("sku-5")
    await cache.price("sku-5")
    assert upstream.await_count == 2
