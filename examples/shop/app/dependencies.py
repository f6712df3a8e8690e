"""Settings, the app's lifespan, and the dependencies tests replace.

The lifespan makes what lives as long as the app: the database engine and one
`httpx.AsyncClient` per outside service (payments, warehouse), closed at
shutdown. Routes reach them through three dependencies, `get_db`,
`get_payments` and `get_warehouse`, which is where tests swap in a rolled-back
session and fake services (see `examples/shop/conftest.py`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

import httpx
from fastapi import Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

#: Made once: building a TLS context takes tens of milliseconds of CPU, on the event loop.
TLS = httpx.create_ssl_context()


@dataclasses.dataclass(frozen=True)
class Settings:
    """Where the database and the outside services are."""

    database_url: str = "sqlite+aiosqlite:///shop.sqlite3"
    payments_url: str = "https://payments.example"
    warehouse_url: str = "https://warehouse.example"

    @classmethod
    def from_env(cls) -> Settings:
        """Read SHOP_DATABASE_URL, SHOP_PAYMENTS_URL and SHOP_WAREHOUSE_URL, where set."""
        fields = (field.name for field in dataclasses.fields(cls))
        found = {name: os.environ.get(f"SHOP_{name.upper()}") for name in fields}
        return cls(**{name: value for name, value in found.items() if value})


class State(TypedDict):
    sessions: async_sessionmaker[AsyncSession]
    payments: httpx.AsyncClient
    warehouse: httpx.AsyncClient


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    """Open the engine and the outside services' clients for the app's lifetime."""
    settings = Settings.from_env()
    engine = create_async_engine(settings.database_url)
    try:
        async with (
            httpx.AsyncClient(base_url=settings.payments_url, verify=TLS, timeout=5) as payments,
            httpx.AsyncClient(base_url=settings.warehouse_url, verify=TLS, timeout=5) as warehouse,
        ):
            sessions = async_sessionmaker(engine, expire_on_commit=False)
            yield {"sessions": sessions, "payments": payments, "warehouse": warehouse}
    finally:
        await engine.dispose()


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """A database session for one request."""
    async with request.state.sessions() as session:
        yield session


async def get_payments(request: Request) -> httpx.AsyncClient:
    """The client of the payment provider's API."""
    client: httpx.AsyncClient = request.state.payments
    return client


async def get_warehouse(request: Request) -> httpx.AsyncClient:
    """The client of the warehouse's API."""
    client: httpx.AsyncClient = request.state.warehouse
    return client


DB = Annotated[AsyncSession, Depends(get_db)]
Payments = Annotated[httpx.AsyncClient, Depends(get_payments)]
Warehouse = Annotated[httpx.AsyncClient, Depends(get_warehouse)]
