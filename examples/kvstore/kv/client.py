"""An async client for the key-value server.

`KVClient` sends one request at a time over one connection (a lock keeps
concurrent callers' requests and replies paired); `Subscription` receives
the server's change events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import TracebackType


class KVError(Exception):
    """The server answered a request with an error."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def _open(
        cls, address: tuple[str, int]
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(*address)

    async def _send(self, request: str) -> str:
        self._writer.write(request.encode() + b"\n")
        await self._writer.drain()
        line = await self._reader.readline()
        if not line:
            raise ConnectionError("the server closed the connection")
        reply = line.decode().rstrip("\n")
        if reply.startswith("-ERR "):
            raise KVError(reply.removeprefix("-ERR "))
        return reply

    async def close(self) -> None:
        """Close the connection."""
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


class KVClient(_Connection):
    """A connection to a key-value server; safe to share between tasks."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(cls, address: tuple[str, int]) -> KVClient:
        """Connect to the server at `address`."""
        return cls(*await cls._open(address))

    async def __aenter__(self) -> KVClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _request(self, request: str) -> str:
        async with self._lock:
            return await self._send(request)

    async def ping(self) -> bool:
        """Return whether the server answers."""
        return await self._request("PING") == "+PONG"

    async def get(self, key: str) -> str | None:
        """Return the value of `key`, or None."""
        reply = await self._request(f"GET {key}")
        return None if reply == "_" else reply.removeprefix("$")

    async def set(self, key: str, value: str) -> None:
        """Set `key` to `value`."""
        await self._request(f"SET {key} {value}")

    async def delete(self, key: str) -> bool:
        """Delete `key`; return whether it existed."""
        return await self._request(f"DEL {key}") == ":1"

    async def incr(self, key: str) -> int:
        """Add one to the integer at `key` (0 if missing) and return the result."""
        return int((await self._request(f"INCR {key}")).removeprefix(":"))

    async def size(self) -> int:
        """Return the number of keys."""
        return int((await self._request("SIZE")).removeprefix(":"))

    async def flush(self) -> None:
        """Delete every key."""
        await self._request("FLUSH")


class Subscription(_Connection):
    """A connection that receives the server's change events."""

    @classmethod
    async def open(cls, address: tuple[str, int]) -> Subscription:
        """Subscribe to the changes of the server at `address`."""
        self = cls(*await cls._open(address))
        await self._send("SUBSCRIBE")
        return self

    async def __aiter__(self) -> AsyncIterator[str]:
        """Yield events (`set key value`, `del key`, `flush`) until the connection closes."""
        while line := await self._reader.readline():
            yield line.decode().rstrip("\n").removeprefix(">")
