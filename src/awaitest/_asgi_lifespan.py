"""An ASGI app's lifespan (startup before the first request, shutdown after), for `awaitest.asgi`.

asgi-lifespan's `LifespanManager` runs the protocol and hands lifespan state
to requests; `run_lifespan` wraps it to say what went wrong in terms a test
author can act on, and to cover what it leaves out: an app that reports
`lifespan.startup.failed` and waits (Quart) or returns without answering
would otherwise hang until the timeout, and an error in the block using the
app would skip the shutdown. It does not send requests (`_asgi_transport`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any

from asgi_lifespan import LifespanManager, LifespanNotSupported

from ._asgi_app import ASGIApp, LifespanError, Message, Receive, Scope, Send, describe


class _LifespanEnded(Exception):
    """Raised in place of the app: it returned, or reported a failure, mid-lifespan."""


class _LifespanWatch:
    """The app as `LifespanManager` sees it: records what the app does on the lifespan scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.received: list[str] = []
        self.sent: list[str] = []
        self.failure: str | None = None  # the message of a *.failed event
        self.error: BaseException | None = None  # what the app raised

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            if "state" in scope:
                # A shallow copy per request, as uvicorn and hypercorn give: what one request
                # stores on request.state must not reach the next one.
                scope["state"] = dict(scope["state"])
            await self.app(scope, receive, send)
            return
        self.state = scope.setdefault("state", {})

        async def watched_receive() -> Message:
            message = await receive()
            self.received.append(message["type"])
            return message

        async def watched_send(message: Message) -> None:
            kind = message["type"]
            self.sent.append(kind)
            if kind.endswith(".failed") and not isinstance(
                sys.exc_info()[1], asyncio.CancelledError
            ):
                # Apps that report a failure and then wait for the next event (Quart)
                # would leave LifespanManager waiting until its timeout: end them here.
                self.failure = str(message.get("message", "")).strip()
                raise _LifespanEnded
            await send(message)

        try:
            await self.app(scope, watched_receive, watched_send)
        except asyncio.CancelledError:
            raise  # LifespanManager ending the app after a timeout: not the app's error
        except BaseException as exc:
            self.error = exc
            raise
        if "lifespan.shutdown.complete" not in self.sent:
            # Returned early: LifespanManager would wait for an answer until its timeout.
            if "lifespan.startup.complete" in self.sent:
                await receive()  # started fine: report it at the shutdown, not now
            self.error = _LifespanEnded()
            raise self.error

    def startup_error(
        self, exc: BaseException, culprit: str, timeout: float | None
    ) -> LifespanError:
        """Explain why startup failed, given what `LifespanManager` raised."""
        app = describe(self.app)
        not_supported = f"{culprit}: {app} does not support the ASGI lifespan protocol"
        no_lifespan = "Pass lifespan=False to test it without startup and shutdown."
        cause = self._cause()
        if isinstance(exc, TimeoutError) and exc is not cause and exc is not self.error:
            msg = (
                f"{culprit}: {app} did not finish its lifespan startup within {timeout} "
                f"seconds (startup_timeout={timeout}). Find what its startup waits for, or "
                "raise startup_timeout (None waits as long as it takes)."
            )
            return LifespanError(msg)
        if isinstance(exc, LifespanNotSupported) or not self.received:
            if isinstance(self.error, _LifespanEnded):
                what = "it returned from the 'lifespan' scope without receiving an event"
            elif self.error is None or isinstance(self.error, LifespanNotSupported):
                what = "it sent a message on the 'lifespan' scope before receiving one"
            else:
                what = f"called with the 'lifespan' scope, it raised {_show(self.error)}"
            return LifespanError(f"{not_supported}: {what}. {no_lifespan}")
        if cause is not None:
            how = f"raised {_show(cause)}"
        elif self.failure:
            how = f"reported: {self.failure}"
        elif self.error is not None:
            how = "returned without sending 'lifespan.startup.complete'"
        else:
            how = f"failed: {_show(exc)}"
        msg = (
            f"{culprit}: the lifespan startup of {app} {how}, so no request was sent. Fix the "
            "app's startup, or pass lifespan=False to test without it."
        )
        return LifespanError(msg)

    def shutdown_error(
        self, exc: BaseException, culprit: str, timeout: float | None
    ) -> LifespanError:
        """Explain why shutdown failed, given what `LifespanManager` raised."""
        app = describe(self.app)
        cause = self._cause()
        if isinstance(exc, TimeoutError) and exc is not cause and exc is not self.error:
            how = (
                f"did not finish within {timeout} seconds (shutdown_timeout={timeout}); find "
                "what it waits for, or raise shutdown_timeout"
            )
        elif cause is not None:
            how = f"raised {_show(cause)}"
        elif self.failure:
            how = f"reported: {self.failure}"
        elif self.error is not None:
            how = "ended before the shutdown: the app returned from the 'lifespan' scope early"
        else:
            how = f"failed: {_show(exc)}"
        return LifespanError(f"{culprit}: the lifespan shutdown of {app} {how}.")

    def _cause(self) -> BaseException | None:
        """The app's own exception: what it raised, or what it was handling when it failed."""
        if self.error is None:
            return None
        if isinstance(self.error, _LifespanEnded):
            return self.error.__context__
        return self.error


def _show(exc: BaseException) -> str:
    """Name an exception in one line: its type and the first line of its message."""
    text = str(exc).strip().split("\n", 1)[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextlib.asynccontextmanager
async def run_lifespan(
    app: ASGIApp,
    *,
    culprit: str,
    startup_timeout: float | None,
    shutdown_timeout: float | None,
) -> AsyncIterator[tuple[ASGIApp, dict[str, Any]]]:
    """Start the app's lifespan; on exit, shut it down.

    The shutdown runs also when the block raises an ordinary exception (a
    failed assertion), as a server's would; a cancellation skips it.

    Args:
        app: The ASGI app.
        culprit: Who asked, to start messages ("fixture 'client'").
        startup_timeout: Seconds startup may take (None: no limit).
        shutdown_timeout: Seconds shutdown may take (None: no limit).

    Yields:
        The app to send requests to (it passes the lifespan state on to
        them) and the state itself.

    Raises:
        LifespanError: Startup or shutdown failed or timed out, or the app
            does not support the lifespan protocol.
    """
    __tracebackhide__ = True
    watch = _LifespanWatch(app)
    manager = LifespanManager(
        watch, startup_timeout=startup_timeout, shutdown_timeout=shutdown_timeout
    )
    try:
        await manager.__aenter__()
    except Exception as exc:
        error = watch.startup_error(exc, culprit, startup_timeout)
        raise error from watch._cause()
    try:
        yield manager.app, watch.state
    except Exception:
        await _shut_down(manager, watch, culprit, shutdown_timeout)
        raise
    except BaseException as exc:
        await manager.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    await _shut_down(manager, watch, culprit, shutdown_timeout)


async def _shut_down(
    manager: LifespanManager, watch: _LifespanWatch, culprit: str, timeout: float | None
) -> None:
    __tracebackhide__ = True
    try:
        await manager.__aexit__(None, None, None)
    except Exception as exc:
        error = watch.shutdown_error(exc, culprit, timeout)
        raise error from watch._cause()
