"""Requests sent all at once with asyncio.gather: nothing oversold, one account per address.

The requests are in flight together; each takes its turn with the test's database session
(see `take_turns` in conftest.py and "The one database session" in examples/README.md).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from unittest.mock import AsyncMock

from app.models import Product, User
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from awaitest.asgi import ASGIClient


async def test_five_customers_order_the_last_three_books_at_once(
    client: ASGIClient, book: Product, payments_api: AsyncMock, db_session: AsyncSession
) -> None:
    sign_ups = await asyncio.gather(
        *(client.post("/users", json={"email": f"c{n}@example.com", "name": "C"}) for n in range(5))
    )
    users = [response.json()["id"] for response in sign_ups]

    orders = await asyncio.gather(
        *(
            client.post(f"/users/{user}/orders", json={"sku": "BOOK-1", "quantity": 1})
            for user in users
        )
    )

    assert Counter(response.status_code for response in orders) == {201: 3, 409: 2}
    assert payments_api.await_count == 3
    assert await db_session.scalar(select(Product.stock)) == 0


async def test_one_address_signed_up_ten_times_at_once(
    client: ASGIClient, db_session: AsyncSession
) -> None:
    body = {"email": "twin@example.com", "name": "Twin"}
    responses = await asyncio.gather(*(client.post("/users", json=body) for _ in range(10)))
    assert sorted(response.status_code for response in responses) == [201] + [409] * 9
    assert await db_session.scalar(select(func.count()).select_from(User)) == 1
