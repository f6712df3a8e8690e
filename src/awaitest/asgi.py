"""Test ASGI apps (FastAPI, Starlette, Quart, any ASGI callable) with an in-process httpx client.

`open_client(app)` is an async context manager giving an `ASGIClient` (an
`httpx.AsyncClient`) whose requests go straight to the app: its lifespan
starts first and shuts down at the end, lifespan state reaches the request
handlers, response bodies stream (server-sent events can be read one by
one), and FastAPI dependency overrides are one call, undone for you.
`client_fixture(app)` makes the pytest fixture from it in one line.

Needs the `asgi` extra (`pip install 'awaitest[asgi]'`: httpx and
asgi-lifespan); `import awaitest` alone never imports them. asyncio only.
"""

from __future__ import annotations

try:
    import asgi_lifespan as _asgi_lifespan  # noqa: F401
    import httpx as _httpx  # noqa: F401
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess
    _msg = (
        f"awaitest.asgi needs httpx and asgi-lifespan, and {_exc.name!r} is not installed: "
        "install awaitest with its asgi extra, pip install 'awaitest[asgi]'."
    )
    raise ImportError(_msg, name=_exc.name) from _exc

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from ._asgi_app import AppError as AppError
from ._asgi_app import ASGIApp as ASGIApp
from ._asgi_app import ASGIUsageError as ASGIUsageError
from ._asgi_app import LifespanError as LifespanError
from ._asgi_client import ASGIClient as ASGIClient
from ._asgi_client import open_asgi_client
from ._asgi_fixture import client_fixture as client_fixture
from ._asgi_overrides import Override as Override
from ._asgi_transport import StreamingASGITransport as StreamingASGITransport

__all__ = [
    "ASGIApp",
    "ASGIClient",
    "ASGIUsageError",
    "AppError",
    "LifespanError",
    "Override",
    "StreamingASGITransport",
    "client_fixture",
    "open_client",
]


@contextlib.asynccontextmanager
async def open_client(
    app: ASGIApp,
    *,
    base_url: str = "http://testserver",
    headers: Mapping[str, str] | None = None,
    lifespan: bool = True,
    startup_timeout: float | None = 5.0,
    shutdown_timeout: float | None = 5.0,
    overrides: Mapping[Callable[..., Any], Callable[..., Any]] | None = None,
    raise_app_exceptions: bool = True,
    **options: Any,
) -> AsyncIterator[ASGIClient]:
    """Open an httpx client on `app`, running the app's lifespan around it.

    On entry the app's lifespan startup runs (unless `lifespan=False`); on
    exit the client closes, the overrides end and the lifespan shutdown
    runs, also when the block raised an exception.

    Args:
        app: The ASGI app (a `FastAPI()` or `Starlette()` instance, any
            async callable taking scope, receive and send).
        base_url: The URL relative request paths are joined to.
        headers: Headers sent with every request.
        lifespan: Run the app's lifespan startup and shutdown. False for
            apps without lifespan support.
        startup_timeout: Seconds the startup may take; None for no limit.
        shutdown_timeout: Seconds the shutdown may take; None for no limit.
        overrides: FastAPI dependency overrides for the client's whole life,
            `{dependency: replacement}`.
        raise_app_exceptions: Let an exception in the app propagate from the
            request (True), or answer 500 (False).
        **options: Passed on to `httpx.AsyncClient` (`cookies`,
            `follow_redirects`, `timeout`, `auth`, ...).

    Yields:
        The client.

    Raises:
        ASGIUsageError: `app` is not an ASGI app, or an argument is wrong.
        LifespanError: The app's lifespan startup or shutdown failed or timed
            out, or the app does not support the lifespan protocol.
    """
    __tracebackhide__ = True
    async with open_asgi_client(
        app,
        culprit="open_client()",
        base_url=base_url,
        headers=headers,
        lifespan=lifespan,
        startup_timeout=startup_timeout,
        shutdown_timeout=shutdown_timeout,
        overrides=overrides,
        raise_app_exceptions=raise_app_exceptions,
        options=options,
    ) as client:
        yield client
