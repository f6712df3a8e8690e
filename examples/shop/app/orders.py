"""Orders: reserve the stock, charge the customer, then ask the warehouse to ship.

`POST /users/{id}/orders` reserves the stock and commits the order as
`pending` before calling the payment provider (no transaction is held open
during an outgoing call), then marks it `paid` (201) and schedules the
shipment as a background task. A declined payment (402), a provider that
keeps failing (502) or takes longer than `PAYMENT_TIMEOUT` (504) puts the
stock back and leaves the order `declined` or `failed`.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, BackgroundTasks, HTTPException, status
from sqlalchemy import update
from sqlalchemy.engine import CursorResult

from . import payments, warehouse
from .dependencies import DB, Payments, Warehouse
from .models import Order, Product
from .schemas import OrderIn, OrderOut
from .users import find_user

#: Seconds a customer waits for the payment, retries included.
PAYMENT_TIMEOUT = 10.0

router = APIRouter(tags=["orders"])


async def reserve(db: DB, sku: str, quantity: int) -> Product:
    """Take `quantity` of `sku` from the stock and return the product, or answer 404 or 409.

    One UPDATE checks and takes, so concurrent orders cannot oversell.
    """
    product = await db.get(Product, sku)
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no product {sku}")
    taken: CursorResult[tuple[()]] = await db.execute(  # type: ignore[assignment]
        update(Product)
        .where(Product.sku == sku, Product.stock >= quantity)
        .values(stock=Product.stock - quantity)
    )
    if taken.rowcount == 0:
        await db.refresh(product)
        detail = f"only {product.stock} of {sku} left, {quantity} ordered"
        raise HTTPException(status.HTTP_409_CONFLICT, detail)
    return product


@router.post("/users/{user_id}/orders", status_code=status.HTTP_201_CREATED)
async def place_order(
    user_id: int,
    body: OrderIn,
    db: DB,
    provider: Payments,
    shipping: Warehouse,
    background: BackgroundTasks,
) -> OrderOut:
    await find_user(db, user_id)
    product = await reserve(db, body.sku, body.quantity)
    order = Order(
        user_id=user_id,
        sku=body.sku,
        quantity=body.quantity,
        amount_cents=product.price_cents * body.quantity,
        status="pending",
    )
    db.add(order)
    await db.commit()

    charge = payments.charge(provider, order_id=order.id, amount_cents=order.amount_cents)
    try:
        order.payment_id = await asyncio.wait_for(charge, PAYMENT_TIMEOUT)
    except payments.PaymentDeclined as error:
        await cancel(db, order, "declined")
        raise HTTPException(
            status.HTTP_402_PAYMENT_REQUIRED, f"payment declined: {error}"
        ) from None
    except payments.PaymentUnavailable as error:
        await cancel(db, order, "failed")
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(error)) from None
    except asyncio.TimeoutError:
        await cancel(db, order, "failed")
        detail = f"the payment provider did not answer within {PAYMENT_TIMEOUT:g} seconds"
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, detail) from None
    order.status = "paid"
    await db.commit()
    background.add_task(
        warehouse.request_shipment,
        shipping,
        order_id=order.id,
        sku=order.sku,
        quantity=order.quantity,
    )
    return OrderOut.model_validate(order)


async def cancel(db: DB, order: Order, outcome: str) -> None:
    """Mark `order` as `outcome` (declined, failed) and put its stock back."""
    order.status = outcome
    await db.execute(
        update(Product).where(Product.sku == order.sku).values(stock=Product.stock + order.quantity)
    )
    await db.commit()


@router.get("/orders/{order_id}")
async def read_order(order_id: int, db: DB) -> OrderOut:
    order = await db.get(Order, order_id)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no order {order_id}")
    return OrderOut.model_validate(order)
