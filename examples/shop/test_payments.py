"""Retries with backoff and a payment timeout, on virtual time: seconds of waiting in no time.

On virtual time (`@pytest.mark.awaitest(virtual_time=True)`) the event
loop's clock jumps to the next timer whenever every task is waiting, so the
backoff's `asyncio.sleep`s take no real time and the loop time the code sees
is exact: the tests assert when each attempt was made, with no tolerance.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from unittest.mock import AsyncMock

import httpx
import pytest
from app.models import Order, Product, User
from app.payments import PaymentUnavailable, charge
from fakes import approve
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from awaitest.asgi import ASGIClient

pytestmark = pytest.mark.awaitest(virtual_time=True)

Answer = Callable[[httpx.Request], httpx.Response] | httpx.Response | Exception


def answering(*answers: Answer) -> tuple[Callable[[httpx.Request], httpx.Response], list[float]]:
    """A side_effect giving `answers` in turn, and the loop times of the requests it got."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    times: list[float] = []
    queue = list(answers)

    def answer(request: httpx.Request) -> httpx.Response:
        times.append(loop.time() - start)
        next_answer = queue.pop(0)
        if isinstance(next_answer, Exception):
            raise next_answer
        return next_answer if isinstance(next_answer, httpx.Response) else next_answer(request)

    return answer, times


@pytest.fixture
async def provider(payments_api: AsyncMock) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the fake payment provider, for calling `charge` without the app."""
    transport = httpx.MockTransport(payments_api)
    async with httpx.AsyncClient(transport=transport, base_url="https://payments.test") as http:
        yield http


async def test_a_failing_provider_is_retried_after_half_a_second_then_one(
    provider: httpx.AsyncClient, payments_api: AsyncMock
) -> None:
    payments_api.side_effect, times = answering(
        httpx.Response(503), httpx.ConnectError("connection refused"), approve
    )

    assert await charge(provider, order_id=7, amount_cents=999) == "pay-order-7"

    assert times == [0.0, 0.5, 1.5]
    keys = {call.args[0].headers["Idempotency-Key"] for call in payments_api.await_args_list}
    assert keys == {"order-7"}  # every retry is the same charge: the provider pays it once


async def test_a_rate_limited_provider_is_asked_again_when_it_says(
    provider: httpx.AsyncClient, payments_api: AsyncMock
) -> None:
    payments_api.side_effect, times = answering(
        httpx.Response(429, headers={"Retry-After": "3"}), approve
    )
    assert await charge(provider, order_id=8, amount_cents=100) == "pay-order-8"
    assert times == [0.0, 3.0]


async def test_a_rejected_request_is_not_retried(
    provider: httpx.AsyncClient, payments_api: AsyncMock
) -> None:
    payments_api.side_effect = [httpx.Response(401)]
    with pytest.raises(PaymentUnavailable, match="rejected the charge: HTTP 401"):
        await charge(provider, order_id=9, amount_cents=100)
    payments_api.assert_awaited_once()


async def test_a_provider_that_keeps_failing_is_502_after_three_and_a_half_seconds(
    client: ASGIClient,
    ada: User,
    book: Product,
    payments_api: AsyncMock,
    db_session: AsyncSession,
) -> None:
    payments_api.side_effect, times = answering(*[httpx.Response(500)] * 4)

    response = await client.post(f"/users/{ada.id}/orders", json={"sku": "BOOK-1", "quantity": 1})

    assert response.status_code == 502
    assert response.json() == {
        "detail": "the payment provider failed 4 times, the last with HTTP 500"
    }
    assert times == [0.0, 0.5, 1.5, 3.5]
    assert await db_session.scalar(select(Order.status)) == "failed"
    assert await db_session.scalar(select(Product.stock)) == 3


@pytest.mark.timeout(5)  # real seconds: if the app's own timeout broke, the test still ends
async def test_a_provider_that_never_answers_is_504_after_ten_seconds(
    client: ASGIClient,
    ada: User,
    book: Product,
    payments_api: AsyncMock,
    db_session: AsyncSession,
) -> None:
    async def never_answer(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    payments_api.side_effect = never_answer
    loop = asyncio.get_running_loop()
    start = loop.time()

    response = await client.post(f"/users/{ada.id}/orders", json={"sku": "BOOK-1", "quantity": 1})

    assert loop.time() - start == 10.0
    assert response.status_code == 504
    assert response.json() == {"detail": "the payment provider did not answer within 10 seconds"}
    assert await db_session.scalar(select(Order.status)) == "failed"
    assert await db_session.scalar(select(Product.stock)) == 3
