"""Charging an order through the payment provider's HTTP API, with retries.

`charge` posts to the provider's `/v1/charges` and returns the payment id.
A provider that is down or busy (a connection error, HTTP 429 or 5xx) is
asked again after 0.5, 1 and 2 seconds, or after its `Retry-After` if that
is longer; the same `Idempotency-Key` on every attempt keeps a retry from
charging twice. A declined card is not retried. How long the customer waits
in total is the caller's business (`orders` gives up after 10 seconds).
"""

from __future__ import annotations

import asyncio

import httpx

#: Seconds to wait before the second, third and fourth attempt.
RETRY_DELAYS = (0.5, 1.0, 2.0)
#: Answers that mean "try again later".
RETRYABLE = frozenset({429, 500, 502, 503, 504})


class PaymentDeclined(Exception):
    """The provider refused the charge (HTTP 402); the reason is the message."""


class PaymentUnavailable(Exception):
    """The provider could not be reached, or kept failing, or rejected the request."""


def _retry_after(response: httpx.Response) -> float:
    """The seconds a 429 or 503 asks us to wait (0 if it does not say, or says a date)."""
    try:
        return max(float(response.headers.get("Retry-After", "0")), 0.0)
    except ValueError:
        return 0.0


async def charge(
    http: httpx.AsyncClient,
    *,
    order_id: int,
    amount_cents: int,
    delays: tuple[float, ...] = RETRY_DELAYS,
) -> str:
    """Charge `amount_cents` (in euro cents) for order `order_id`; return the payment id.

    Args:
        http: A client whose base URL is the provider's API.
        order_id: The order paid for; it makes the idempotency key.
        amount_cents: What to charge.
        delays: Seconds to wait before each retry; one attempt more than delays.

    Returns:
        The provider's id of the payment.

    Raises:
        PaymentDeclined: The provider declined the payment.
        PaymentUnavailable: Every attempt failed, or the provider rejected the request.
    """
    body = {"amount": amount_cents, "currency": "EUR", "reference": f"order-{order_id}"}
    headers = {"Idempotency-Key": f"order-{order_id}"}
    problem = ""
    for delay in (*delays, None):
        try:
            response = await http.post("/v1/charges", json=body, headers=headers)
        except httpx.TransportError as error:
            problem, asked = f"{type(error).__name__}: {error}", 0.0
        else:
            if response.status_code == 402:
                raise PaymentDeclined(response.json().get("reason", "declined"))
            if response.is_success:
                return str(response.json()["id"])
            problem, asked = f"HTTP {response.status_code}", _retry_after(response)
            if response.status_code not in RETRYABLE:
                msg = f"the payment provider rejected the charge: {problem}"
                raise PaymentUnavailable(msg)
        if delay is None:
            break
        await asyncio.sleep(max(delay, asked))
    msg = f"the payment provider failed {len(delays) + 1} times, the last with {problem}"
    raise PaymentUnavailable(msg)
