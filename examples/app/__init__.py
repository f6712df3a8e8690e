"""A tiny key-value store served over TCP, with an async client and a price cache.

The example suite in `examples/` tests it with awaitest. It uses only the
standard library: `server` (the asyncio TCP server), `client` (an async
client for it), `cache` (a cache-aside service that calls an upstream API).
"""
