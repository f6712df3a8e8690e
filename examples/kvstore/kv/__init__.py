"""A tiny key-value store served over TCP, with an async client and a price cache.

The second example app, tested in `examples/kvstore/` with awaitest: no web
framework and no database, only the standard library. `server` is the
asyncio TCP server, `client` an async client for it, `cache` a cache-aside
service that calls an upstream API.
"""
