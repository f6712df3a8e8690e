"""What the fake outside services answer, for the `AsyncMock`s of `conftest.py` and the tests."""

from __future__ import annotations

import json

import httpx


def approve(request: httpx.Request) -> httpx.Response:
    """Answer a charge as the payment provider does when it goes through."""
    charge = json.loads(request.content)
    return httpx.Response(201, json={"id": f"pay-{charge['reference']}", "status": "succeeded"})


def accept(request: httpx.Request) -> httpx.Response:
    """Answer a shipment as the warehouse does when it takes it."""
    return httpx.Response(202)
