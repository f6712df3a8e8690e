"""Orders: the payment call (an AsyncMock behind httpx.MockTransport), the background task."""

from __future__ import annotations

import json
import logging
from unittest.mock import AsyncMock

import httpx
import pytest
from app.models import Order, Product, User
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from awaitest.asgi import ASGIClient


async def stock(db_session: AsyncSession, sku: str = "BOOK-1") -> int | None:
    """What the database holds, not what an object in the session remembers."""
    return await db_session.scalar(select(Product.stock).where(Product.sku == sku))


def requests(api: AsyncMock) -> list[httpx.Request]:
    """The requests a fake service received."""
    return [call.args[0] for call in api.await_args_list]


def sent(api: AsyncMock) -> list[tuple[str, str, object]]:
    """The requests a fake service received: method, URL, JSON body."""
    return [(r.method, str(r.url), json.loads(r.content)) for r in requests(api)]


async def test_an_order_is_charged_and_paid(
    client: ASGIClient, ada: User, book: Product, payments_api: AsyncMock, db_session: AsyncSession
) -> None:
    response = await client.post(f"/users/{ada.id}/orders", json={"sku": "BOOK-1", "quantity": 2})

    assert response.status_code == 201
    order = response.json()
    assert order == {
        "id": order["id"],
        "user_id": ada.id,
        "sku": "BOOK-1",
        "quantity": 2,
        "amount_cents": 2500,
        "status": "paid",
        "payment_id": f"pay-order-{order['id']}",
    }
    charge = {"amount": 2500, "currency": "EUR", "reference": f"order-{order['id']}"}
    assert sent(payments_api) == [("POST", "https://payments.test/v1/charges", charge)]
    assert requests(payments_api)[0].headers["Idempotency-Key"] == f"order-{order['id']}"
    assert await stock(db_session) == 1
    assert (await client.get(f"/orders/{order['id']}")).json() == order


async def test_the_warehouse_is_asked_to_ship_once_the_order_is_paid(
    client: ASGIClient, ada: User, book: Product, warehouse_api: AsyncMock
) -> None:
    response = await client.post(f"/users/{ada.id}/orders", json={"sku": "BOOK-1", "quantity": 1})

    # A background task, run after the response was sent. No sleep needed: the client
    # returns once the app has returned, and the app returns after its background tasks.
    order_id = response.json()["id"]
    shipment = {"order_id": order_id, "sku": "BOOK-1", "quantity": 1}
    assert sent(warehouse_api) == [("POST", "https://warehouse.test/v1/shipments", shipment)]


async def test_a_warehouse_that_is_down_is_logged_and_the_order_stays_paid(
    client: ASGIClient,
    ada: User,
    book: Product,
    warehouse_api: AsyncMock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    warehouse_api.side_effect = httpx.ConnectError("connection refused")

    response = await client.post(f"/users/{ada.id}/orders", json={"sku": "BOOK-1", "quantity": 1})

    assert response.status_code == 201
    order_id = response.json()["id"]
    assert (await client.get(f"/orders/{order_id}")).json()["status"] == "paid"
    assert caplog.record_tuples == [
        (
            "app.warehouse",
            logging.WARNING,
            f"the warehouse was not asked to ship order {order_id}: connection refused",
        )
    ]


async def test_a_declined_payment_is_402_and_puts_the_stock_back(
    client: ASGIClient, ada: User, book: Product, payments_api: AsyncMock, db_session: AsyncSession
) -> None:
    payments_api.side_effect = [httpx.Response(402, json={"reason": "insufficient funds"})]

    response = await client.post(f"/users/{ada.id}/orders", json={"sku": "BOOK-1", "quantity": 3})

    assert response.status_code == 402
    assert response.json() == {"detail": "payment declined: insufficient funds"}
    payments_api.assert_awaited_once()  # a declined card is not retried
    assert await stock(db_session) == 3
    assert await db_session.scalar(select(Order.status)) == "declined"


async def test_ordering_more_than_the_stock_is_409(
    client: ASGIClient, ada: User, book: Product, payments_api: AsyncMock, db_session: AsyncSession
) -> None:
    response = await client.post(f"/users/{ada.id}/orders", json={"sku": "BOOK-1", "quantity": 4})

    assert response.status_code == 409
    assert response.json() == {"detail": "only 3 of BOOK-1 left, 4 ordered"}
    payments_api.assert_not_awaited()
    assert await stock(db_session) == 3


async def test_an_unknown_product_is_404(client: ASGIClient, ada: User) -> None:
    response = await client.post(f"/users/{ada.id}/orders", json={"sku": "LAMP-7", "quantity": 1})
    assert response.status_code == 404
    assert response.json() == {"detail": "no product LAMP-7"}


async def test_an_unknown_order_is_404(client: ASGIClient) -> None:
    response = await client.get("/orders/12345")
    assert response.status_code == 404
    assert response.json() == {"detail": "no order 12345"}


@pytest.mark.parametrize(
    ("body", "field", "error"),
    [
        ({"sku": "BOOK-1", "quantity": 0}, "quantity", "greater_than_equal"),
        ({"sku": "BOOK-1", "quantity": 11}, "quantity", "less_than_equal"),
        ({"sku": "BOOK-1", "quantity": "two"}, "quantity", "int_parsing"),
        ({"sku": "book-1", "quantity": 1}, "sku", "string_pattern_mismatch"),
        ({"quantity": 1}, "sku", "missing"),
    ],
)
async def test_an_invalid_order_is_422(
    client: ASGIClient,
    ada: User,
    book: Product,
    payments_api: AsyncMock,
    body: dict[str, object],
    field: str,
    error: str,
) -> None:
    response = await client.post(f"/users/{ada.id}/orders", json=body)
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert (problem["loc"], problem["type"]) == (["body", field], error)
    payments_api.assert_not_awaited()


async def test_a_users_orders_are_listed_oldest_first(
    client: ASGIClient, ada: User, book: Product
) -> None:
    first = await client.post(f"/users/{ada.id}/orders", json={"sku": "BOOK-1", "quantity": 1})
    second = await client.post(f"/users/{ada.id}/orders", json={"sku": "BOOK-1", "quantity": 2})
    listed = await client.get(f"/users/{ada.id}/orders")
    assert listed.json() == [first.json(), second.json()]
