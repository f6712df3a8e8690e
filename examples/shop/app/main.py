"""The FastAPI app: the routes of `users` and `orders`, the lifespan of `dependencies`."""

from __future__ import annotations

from fastapi import FastAPI

from . import orders, users
from .dependencies import lifespan

app = FastAPI(title="shop", lifespan=lifespan)
app.include_router(users.router)
app.include_router(orders.router)
