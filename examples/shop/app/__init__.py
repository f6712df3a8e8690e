"""A small web shop: users and orders, paid through an outside payment provider.

A FastAPI app on async SQLAlchemy, tested in `examples/shop/` with awaitest:

- `main`: the app, its lifespan (a database engine and the HTTP clients for
  the two outside services) and the dependencies tests replace (`get_db`,
  `get_payments`, `get_warehouse`);
- `users`, `orders`: the routes;
- `models`: the tables; `schemas`: request and response bodies, validated;
- `payments`: the outgoing call that charges an order, retried with backoff;
- `warehouse`: the background task asking the warehouse to ship a paid order.

Configuration comes from the environment: SHOP_DATABASE_URL,
SHOP_PAYMENTS_URL, SHOP_WAREHOUSE_URL (see `main.Settings`).
"""
