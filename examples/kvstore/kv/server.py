"""The key-value server: a line protocol over TCP, one asyncio task per connection.

Requests are one line each: `PING`, `SET key value`, `GET key`, `DEL key`,
`INCR key`, `SIZE`, `FLUSH`, `SUBSCRIBE`. Replies are one line each, typed by
their first character: `+` status, `$` value, `_` no value, `:` integer,
`-ERR` error. A connection that sends `SUBSCRIBE` receives an event line,
`>set key value`, `>del key` or `>flush`, for every later change.
"""

from __future__ import annotations

import asyncio
import contextlib


class KVServer:
    """An in-memory key-value store served on a TCP port.

    Use `await KVServer.start()` to listen (port 0 picks a free port) and
    `await server.close()` to stop; `address` is the (host, port) it listens on.
    """

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._subscribers: set[asyncio.StreamWriter] = set()

    @classmethod
    async def start(cls, host: str = "127.0.0.1", port: int = 0) -> KVServer:
        """Start a server listening on `host`:`port`."""
        self = cls()
        self._server = await asyncio.start_server(self._serve, host, port)
        return self

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the server listens on."""
        assert self._server is not None, "the server is not started"
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def close(self) -> None:
        """Stop listening and close every open connection."""
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._connections):
            writer.close()
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while line := await reader.readline():
                reply = self._handle(line.decode().rstrip("\r\n"), writer)
                writer.write(reply.encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._connections.discard(writer)
            self._subscribers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _handle(self, line: str, writer: asyncio.StreamWriter) -> str:
        command, _, rest = line.partition(" ")
        command = command.upper()
        key, _, value = rest.partition(" ")
        if command == "PING":
            return "+PONG"
        if command == "SET" and key and value:
            self.data[key] = value
            self._publish(f">set {key} {value}")
            return "+OK"
        if command == "GET" and key:
            found = self.data.get(key)
            return "_" if found is None else f"${found}"
        if command == "DEL" and key:
            existed = self.data.pop(key, None) is not None
            if existed:
                self._publish(f">del {key}")
            return f":{int(existed)}"
        if command == "INCR" and key:
            try:
                number = int(self.data.get(key, "0")) + 1
            except ValueError:
                return "-ERR value is not an integer"
            self.data[key] = str(number)
            self._publish(f">set {key} {number}")
            return f":{number}"
        if command == "SIZE":
            return f":{len(self.data)}"
        if command == "FLUSH":
            self.data.clear()
            self._publish(">flush")
            return "+OK"
        if command == "SUBSCRIBE":
            self._subscribers.add(writer)
            return "+OK"
        return f"-ERR bad request {line!r}"

    def _publish(self, event: str) -> None:
        for subscriber in self._subscribers:
            subscriber.write(event.encode() + b"\n")
