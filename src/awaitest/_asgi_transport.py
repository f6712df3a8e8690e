"""An httpx transport that calls an ASGI app in-process and streams its response body.

httpx's own `ASGITransport` awaits the whole app call before returning the
response, so a streamed body (server-sent events, `StreamingResponse`) is
read only once the app has finished, and an endless one never returns.
`StreamingASGITransport` keeps httpx's constructor and request scope, but
runs the app in a task of its own: the response is returned as soon as the
app starts it, body chunks arrive through an anyio memory stream as the app
sends them, and closing the response early tells the app the client went
away and, if it does not end by itself, cancels it. A response read to its
end waits for the app to return, as httpx's transport does, so background
tasks run before the request returns. asyncio only. It knows nothing of
lifespans (`_asgi_lifespan`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Final, NoReturn

import anyio
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._asgi_app import AppError, ASGIApp, Message, Scope, describe

#: Body chunks the app may send ahead of the reader before its send() waits.
_BUFFERED_CHUNKS: Final = 16

#: Seconds an app whose client left mid-body has to end by itself before it is cancelled.
#: Apps that listen for the disconnect (Starlette, Quart) end within a few loop iterations;
#: cancelling Quart at once would orphan its handler task.
_DISCONNECT_GRACE: Final = 1.0


class StreamingASGITransport(httpx.ASGITransport):
    """`httpx.ASGITransport` with response bodies streamed while the app runs.

    Takes the arguments of `httpx.ASGITransport` (`app`,
    `raise_app_exceptions`, `root_path`, `client`). With
    `raise_app_exceptions=False` an app that fails before responding gives a
    500 response, and one that fails mid-body ends the body.
    """

    def __init__(
        self,
        app: ASGIApp,
        raise_app_exceptions: bool = True,
        root_path: str = "",
        client: tuple[str, int] = ("127.0.0.1", 123),
    ) -> None:
        super().__init__(
            app, raise_app_exceptions=raise_app_exceptions, root_path=root_path, client=client
        )
        self._exchanges: set[_Exchange] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Start the app on `request`; return the response once the app has started it."""
        exchange = _Exchange(self, request)
        self._exchanges.add(exchange)
        try:
            await exchange.start()
        except BaseException:
            await exchange.abort()
            raise
        return httpx.Response(exchange.status, headers=exchange.headers, stream=exchange)

    async def aclose(self) -> None:
        """Cancel the app wherever a response was left open (a stream never closed)."""
        for exchange in list(self._exchanges):
            await exchange.abort()

    def _done(self, exchange: _Exchange) -> None:
        self._exchanges.discard(exchange)


def _http_scope(request: httpx.Request, transport: httpx.ASGITransport) -> Scope:
    """The ASGI scope of a request, as httpx's ASGITransport builds it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "headers": [(key.lower(), value) for key, value in request.headers.raw],
        "scheme": request.url.scheme,
        "path": request.url.path,
        "raw_path": request.url.raw_path.split(b"?")[0],
        "query_string": request.url.query,
        "server": (request.url.host, request.url.port),
        "client": transport.client,
        "root_path": transport.root_path,
    }


class _Exchange(httpx.AsyncByteStream):
    """One request: the app's task, and the response body stream httpx reads."""

    def __init__(self, transport: StreamingASGITransport, request: httpx.Request) -> None:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self._transport = transport
        self._request = request
        self._request_body = request.stream.__aiter__()
        self._request_complete = False
        self._started = False
        self._start_seen = asyncio.Event()  # the app started the response, or ended
        self._body_complete = False
        self._disconnected = asyncio.Event()
        self._client_left = False  # closed the response before the body was complete
        # Not create_memory_object_stream[bytes](...): that spelling needs anyio 4.
        streams: tuple[MemoryObjectSendStream[bytes], MemoryObjectReceiveStream[bytes]]
        streams = anyio.create_memory_object_stream(_BUFFERED_CHUNKS)
        self._send_body, self._receive_body = streams
        self._error: Exception | None = None
        self._error_reported = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run the app in a task until it starts the response; raise what it raised first."""
        scope = _http_scope(self._request, self._transport)
        self._task = asyncio.create_task(self._run_app(scope))
        await self._start_seen.wait()
        if self._started:
            return
        if self._error is None:
            msg = (
                f"{describe(self._transport.app)} returned without sending a response to "
                f"{self._request.method} {self._request.url} (no 'http.response.start')."
            )
            raise AppError(msg)
        if self._transport.raise_app_exceptions:
            self._error_reported = True
            raise self._error

    async def _run_app(self, scope: Scope) -> None:
        try:
            await self._transport.app(scope, self._receive, self._send)
        except Exception as exc:
            self._error = exc  # reported to the reader, or when the response closes
        finally:
            self._start_seen.set()
            self._send_body.close()

    async def _receive(self) -> Message:
        if not self._request_complete:
            try:
                body = await self._request_body.__anext__()
            except StopAsyncIteration:
                self._request_complete = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": body, "more_body": True}
        await self._disconnected.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if self._client_left:
            # Dropped, as servers do under ASGI 2.0 (the version httpx's scope announces).
            # Raising here would end a framework's body loop with the body generator left
            # suspended at its yield; the disconnect's cancellation instead lands in the
            # generator's own awaits, and closes it.
            return
        kind = message["type"]
        if kind == "http.response.start":
            if self._started:
                self._protocol_error("sent 'http.response.start' twice")
            self._started = True
            self.status = message["status"]
            self.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
            self._start_seen.set()
        elif kind == "http.response.body":
            if not self._started:
                self._protocol_error("sent 'http.response.body' before 'http.response.start'")
            if self._body_complete:
                self._protocol_error("sent 'http.response.body' after the body was complete")
            body = bytes(message.get("body", b""))
            if body and self._request.method != "HEAD":
                try:
                    # Wait only when the buffer is full, for the same reason: a body
                    # generator is then suspended in its own awaits, not at its yield.
                    self._send_body.send_nowait(body)
                except anyio.WouldBlock:
                    await self._send_chunk(body)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    return  # the client left
            if not message.get("more_body", False):
                self._body_complete = True
                self._disconnected.set()
                self._send_body.close()

    async def _send_chunk(self, body: bytes) -> None:
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await self._send_body.send(body)  # the client left while the app waited

    def _protocol_error(self, what: str) -> NoReturn:
        msg = (
            f"{describe(self._transport.app)} {what} ({self._request.method} {self._request.url})."
        )
        raise AppError(msg)

    def __aiter__(self) -> AsyncIterator[bytes]:
        # An iterator, not an async generator: a reader that stops early (`break` out of
        # aiter_lines()) leaves nothing suspended behind.
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._receive_body.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._receive_body.close()
            if not self._body_complete and self._error is not None:
                self._raise_app_error()
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        """The client closed the response: let the app finish; if it is mid-body, end it."""
        await self._end()
        if self._error is not None and not self._error_reported:
            self._raise_app_error()

    async def abort(self) -> None:
        """End the app, whatever it is doing; report nothing."""
        self._error_reported = True
        await self._end()

    async def _end(self) -> None:
        if not self._body_complete:
            self._client_left = True
            self._error_reported = True  # what the app raises now is about the disconnect
        self._receive_body.close()
        self._disconnected.set()
        task = self._task
        if task is not None and not task.done():
            if self._client_left:
                # The app hears the disconnect from receive(); cancel it if it has not
                # ended by itself after the grace period.
                await asyncio.wait({task}, timeout=_DISCONNECT_GRACE)
                task.cancel()
            await asyncio.wait({task})
        self._send_body.close()  # in case the task was cancelled before it ran
        self._transport._done(self)

    def _raise_app_error(self) -> None:
        assert self._error is not None
        self._error_reported = True
        if self._transport.raise_app_exceptions:
            raise self._error
