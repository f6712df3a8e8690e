"""Users: create, read, update, delete; an email address belongs to one user only."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from .dependencies import DB
from .models import Order, User
from .schemas import OrderOut, UserIn, UserOut, UserPatch

router = APIRouter(prefix="/users", tags=["users"])


async def find_user(db: DB, user_id: int) -> User:
    """Return user `user_id`, or answer 404."""
    user = await db.get(User, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {user_id}")
    return user


async def commit_unique_email(db: DB, email: str) -> None:
    """Commit, answering 409 if another user has `email`.

    The database's unique constraint decides, not a lookup before the insert:
    two requests with one address at the same moment cannot both get in.
    """
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, f"{email} is already registered") from None


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_user(body: UserIn, db: DB) -> UserOut:
    user = User(email=body.email, name=body.name)
    db.add(user)
    await commit_unique_email(db, body.email)
    return UserOut.model_validate(user)


@router.get("/{user_id}")
async def read_user(user_id: int, db: DB) -> UserOut:
    return UserOut.model_validate(await find_user(db, user_id))


@router.patch("/{user_id}")
async def update_user(user_id: int, body: UserPatch, db: DB) -> UserOut:
    user = await find_user(db, user_id)
    if body.name is not None:
        user.name = body.name
    if body.email is not None:
        user.email = body.email
    await commit_unique_email(db, user.email)
    return UserOut.model_validate(user)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: int, db: DB) -> Response:
    user = await find_user(db, user_id)
    if await db.scalar(select(exists().where(Order.user_id == user_id))):
        detail = f"user {user_id} has orders, which are kept for the accounts"
        raise HTTPException(status.HTTP_409_CONFLICT, detail)
    await db.delete(user)
    await db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{user_id}/orders")
async def list_orders(user_id: int, db: DB) -> list[OrderOut]:
    await find_user(db, user_id)
    orders = await db.scalars(select(Order).where(Order.user_id == user_id).order_by(Order.id))
    return [OrderOut.model_validate(order) for order in orders]
