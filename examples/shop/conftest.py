"""Fixtures for the shop's tests: the app on a rolled-back database, with fake outside services.

- `db_session` (from awaitest.sqlalchemy): an `AsyncSession` on the test
  database, a temporary SQLite file unless AWAITEST_DATABASE_URL names
  another; everything done through it, the app's commits included, is rolled
  back after the test. `awaitest_database_metadata` tells it which tables to
  create.
- `payments_api`, `warehouse_api`: `AsyncMock`s playing the outside services.
  Each is the handler of an `httpx.MockTransport`, so the app's own httpx
  code runs (URLs, JSON, headers, status codes) and only the network is
  fake. Tests assert on the requests they were sent, and change what they
  answer through `side_effect`.
- `client`: an httpx client on the app (`awaitest.asgi.open_client`): the
  app's lifespan runs around the test, and its three dependencies answer
  with the session and the fake services.
- `ada`, `book`: a user and a product, committed through `db_session`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from unittest.mock import AsyncMock

import httpx
import pytest
from app.dependencies import get_db, get_payments, get_warehouse
from app.main import app
from app.models import Base, Product, User
from fakes import accept, approve
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

from awaitest.asgi import ASGIClient, open_client


@pytest.fixture(scope="session")
def awaitest_database_metadata() -> MetaData:
    """The tables awaitest.sqlalchemy creates (or the ini key awaitest_database_metadata)."""
    return Base.metadata


@pytest.fixture
def payments_api() -> AsyncMock:
    """The payment provider's API: every charge goes through."""
    return AsyncMock(side_effect=approve)


@pytest.fixture
def warehouse_api() -> AsyncMock:
    """The warehouse's API: every shipment is accepted."""
    return AsyncMock(side_effect=accept)


def take_turns(session: AsyncSession) -> Callable[[], AsyncIterator[AsyncSession]]:
    """Make a `get_db` stand-in that hands `session` to one request at a time.

    The test's changes are rolled back because they all go through one
    connection, in one transaction; an `AsyncSession` runs one statement at a
    time. Requests sent together (`asyncio.gather`) must take turns with it,
    or SQLAlchemy fails them with "concurrent operations are not permitted".
    """
    turn = asyncio.Lock()

    async def get_test_db() -> AsyncIterator[AsyncSession]:
        async with turn:
            yield session

    return get_test_db


@pytest.fixture
async def client(
    db_session: AsyncSession, payments_api: AsyncMock, warehouse_api: AsyncMock
) -> AsyncIterator[ASGIClient]:
    """An httpx client on the app, with the test's session and the fake services."""
    async with (
        httpx.AsyncClient(
            transport=httpx.MockTransport(payments_api), base_url="https://payments.test"
        ) as payments,
        httpx.AsyncClient(
            transport=httpx.MockTransport(warehouse_api), base_url="https://warehouse.test"
        ) as warehouse,
        open_client(app) as client,
    ):
        client.override(get_db, take_turns(db_session))
        client.override(get_payments, lambda: payments)
        client.override(get_warehouse, lambda: warehouse)
        yield client


@pytest.fixture
async def ada(db_session: AsyncSession) -> User:
    """A registered user."""
    user = User(email="ada@example.com", name="Ada Lovelace")
    db_session.add(user)
    await db_session.commit()
    return user


@pytest.fixture
async def book(db_session: AsyncSession) -> Product:
    """A product with 3 in stock, at 12.50."""
    product = Product(sku="BOOK-1", name="Notes on the Engine", price_cents=1250, stock=3)
    db_session.add(product)
    await db_session.commit()
    return product
