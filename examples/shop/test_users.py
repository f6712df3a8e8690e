"""Users through the API: CRUD, 404, 409 and 422, on a database rolled back after each test."""

from __future__ import annotations

import pytest
from app.models import Product, User
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from awaitest.asgi import ASGIClient


async def count_users(db_session: AsyncSession) -> int:
    return await db_session.scalar(select(func.count()).select_from(User)) or 0


async def test_create_read_update_delete(client: ASGIClient, db_session: AsyncSession) -> None:
    created = await client.post("/users", json={"email": " Grace@Example.com", "name": "Grace"})
    assert created.status_code == 201
    user = created.json()
    assert user == {"id": user["id"], "email": "grace@example.com", "name": "Grace"}
    # The app committed; the test's session sees it (until the rollback after the test).
    assert await db_session.scalar(select(User.name).where(User.id == user["id"])) == "Grace"

    read = await client.get(f"/users/{user['id']}")
    assert read.json() == user

    updated = await client.patch(f"/users/{user['id']}", json={"name": "Grace Hopper"})
    assert updated.json() == {**user, "name": "Grace Hopper"}

    deleted = await client.delete(f"/users/{user['id']}")
    assert deleted.status_code == 204
    assert (await client.get(f"/users/{user['id']}")).status_code == 404
    assert await count_users(db_session) == 0


async def test_every_test_starts_with_an_empty_database(
    client: ASGIClient, db_session: AsyncSession
) -> None:
    # Other tests committed users through the app: their transactions were rolled back.
    assert await count_users(db_session) == 0
    assert await db_session.scalar(select(func.count()).select_from(Product)) == 0
    await client.post("/users", json={"email": "left@example.com", "name": "Left Behind"})
    assert await count_users(db_session) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/users/404"),
        ("PATCH", "/users/404"),
        ("DELETE", "/users/404"),
        ("GET", "/users/404/orders"),
        ("POST", "/users/404/orders"),
    ],
)
async def test_an_unknown_user_is_404(client: ASGIClient, method: str, path: str) -> None:
    body = {"sku": "BOOK-1", "quantity": 1} if method == "POST" else {}
    response = await client.request(method, path, json=body)
    assert response.status_code == 404
    assert response.json() == {"detail": "no user 404"}


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@example.com", " ada@EXAMPLE.com "])
async def test_a_registered_email_is_409(client: ASGIClient, ada: User, email: str) -> None:
    response = await client.post("/users", json={"email": email, "name": "Impostor"})
    assert response.status_code == 409
    assert response.json() == {"detail": "ada@example.com is already registered"}


async def test_taking_another_users_email_is_409(
    client: ASGIClient, ada: User, db_session: AsyncSession
) -> None:
    ada_id = ada.id
    other = (await client.post("/users", json={"email": "bob@example.com", "name": "Bob"})).json()
    response = await client.patch(f"/users/{other['id']}", json={"email": "ada@example.com"})
    assert response.status_code == 409
    # Neither user changed: the app rolled the failed update back.
    emails = await db_session.execute(select(User.id, User.email).order_by(User.id))
    assert emails.all() == [(ada_id, "ada@example.com"), (other["id"], "bob@example.com")]


@pytest.mark.parametrize(
    ("body", "field", "error"),
    [
        ({"name": "No Email"}, "email", "missing"),
        ({"email": "not-an-address", "name": "X"}, "email", "string_pattern_mismatch"),
        ({"email": "a b@example.com", "name": "X"}, "email", "string_pattern_mismatch"),
        ({"email": "x@example.com", "name": "   "}, "name", "string_too_short"),
        ({"email": "x@example.com", "name": "x" * 101}, "name", "string_too_long"),
        ({"email": "x@example.com", "name": 42}, "name", "string_type"),
    ],
)
async def test_an_invalid_user_is_422(
    client: ASGIClient, db_session: AsyncSession, body: dict[str, object], field: str, error: str
) -> None:
    response = await client.post("/users", json=body)
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert (problem["loc"], problem["type"]) == (["body", field], error)
    assert await count_users(db_session) == 0


async def test_a_user_with_orders_is_kept(client: ASGIClient, ada: User, book: Product) -> None:
    await client.post(f"/users/{ada.id}/orders", json={"sku": "BOOK-1", "quantity": 1})
    response = await client.delete(f"/users/{ada.id}")
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"user {ada.id} has orders, which are kept for the accounts"
    }
