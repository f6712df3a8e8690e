"""Asking the warehouse to ship a paid order: a background task after the response.

The customer does not wait for the warehouse: `orders` schedules
`request_shipment` with FastAPI's `BackgroundTasks`, which run once the
response is sent. A warehouse that is down is logged, not raised: the order
is paid either way (a real shop would keep the request in an outbox and
retry it).
"""

from __future__ import annotations

import logging

import httpx

logger = logging.getLogger(__name__)


async def request_shipment(
    http: httpx.AsyncClient, *, order_id: int, sku: str, quantity: int
) -> None:
    """Post the shipment of order `order_id` to the warehouse's `/v1/shipments`.

    Args:
        http: A client whose base URL is the warehouse's API.
        order_id: The paid order.
        sku: The product to ship.
        quantity: How many.
    """
    shipment = {"order_id": order_id, "sku": sku, "quantity": quantity}
    try:
        response = await http.post("/v1/shipments", json=shipment)
        response.raise_for_status()
    except httpx.HTTPError as error:
        logger.warning("the warehouse was not asked to ship order %d: %s", order_id, error)
