"""Prices from a slow upstream API, cached in the key-value store.

`PriceCache.price` returns the cached price of a product, or fetches it from
the upstream (any `async (sku) -> Decimal` callable), stores it and returns
it. Concurrent misses for one product share a single upstream call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

from .client import KVClient

FetchPrice = Callable[[str], Awaitable[Decimal]]


class PriceCache:
    """Cache-aside prices: the store first, then the upstream."""

    def __init__(self, store: KVClient, fetch_price: FetchPrice) -> None:
        self._store = store
        self._fetch_price = fetch_price
        self._loading: dict[str, asyncio.Task[Decimal]] = {}

    async def price(self, sku: str) -> Decimal:
        """Return the price of product `sku`."""
        cached = await self._store.get(f"price:{sku}")
        if cached is not None:
            return Decimal(cached)
        task = self._loading.get(sku)
        if task is None:
            task = asyncio.create_task(self._load(sku))
            self._loading[sku] = task
            task.add_done_callback(lambda _: self._loading.pop(sku, None))
        return await asyncio.shield(task)

    async def _load(self, sku: str) -> Decimal:
        price = await self._fetch_price(sku)
        await self._store.set(f"price:{sku}", str(price))
        return price

    async def forget(self, sku: str) -> None:
        """Drop the cached price of `sku`, so the next lookup asks the upstream."""
        await self._store.delete(f"price:{sku}")
