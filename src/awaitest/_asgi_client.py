"""`open_client`: an httpx client wired to an ASGI app in-process, with the app's lifespan.

It puts together the pieces the other `_asgi_*` modules provide: the app
check, the lifespan (startup before the first request, shutdown after the
last, state passed to requests), the streaming transport, and dependency
overrides undone when the client closes. It does not make pytest fixtures
(`_asgi_fixture`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final

import httpx

from ._asgi_app import ASGIApp, ASGIUsageError, check_app
from ._asgi_lifespan import run_lifespan
from ._asgi_overrides import Lifetime, Override, Overrides
from ._asgi_transport import StreamingASGITransport

#: `httpx.AsyncClient` arguments `open_client` sets itself.
_OWN_OPTIONS: Final = ("app", "transport", "mounts")


class ASGIClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` that sends its requests to an ASGI app in-process.

    Made by `open_client` and `client_fixture`; everything `httpx.AsyncClient`
    does works (`get`, `post`, `stream`, cookies, `headers`, ...).

    Attributes:
        app: The app, as given.
        state: The lifespan state the app's startup set (what a FastAPI or
            Starlette lifespan yields); empty without a lifespan.
    """

    __module__ = "awaitest.asgi"

    def __init__(
        self,
        app: ASGIApp,
        transport: httpx.AsyncBaseTransport,
        *,
        state: dict[str, Any],
        **options: Any,
    ) -> None:
        super().__init__(transport=transport, **options)
        self.app = app
        self.state = state
        self._overrides = Overrides(app)

    def override(self, dependency: Callable[..., Any], replacement: Callable[..., Any]) -> Override:
        """Make a FastAPI app call `replacement` wherever it depends on `dependency`.

        The override ends at the end of the test for a client made by
        `client_fixture` (at any scope), when the client closes for one made
        by `open_client`, or at the end of a `with` block:
        `with client.override(get_user, lambda: admin): ...`.

        Args:
            dependency: The function the app passes to `Depends()`.
            replacement: What to call instead (takes the same kind of
                arguments; `lambda: value` to return a value).

        Returns:
            The override; `undo()` ends it early.

        Raises:
            ASGIUsageError: The app has no `dependency_overrides` (it is not
                a FastAPI app), or an argument is not callable.
        """
        __tracebackhide__ = True
        culprit = f"client.override({getattr(dependency, '__name__', dependency)}, ...)"
        return self._overrides.add(dependency, replacement, Lifetime.TEST, culprit)


def _check_timeout(name: str, value: object, culprit: str) -> None:
    __tracebackhide__ = True
    ok = value is None or (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and value > 0
        and not math.isnan(value)
    )
    if not ok:
        msg = f"{culprit}: {name}={value!r} is not a number of seconds above 0 (or None)."
        raise ASGIUsageError(msg)


@contextlib.asynccontextmanager
async def open_asgi_client(
    app: ASGIApp,
    *,
    culprit: str,
    base_url: str,
    headers: Mapping[str, str] | None,
    lifespan: object,
    startup_timeout: float | None,
    shutdown_timeout: float | None,
    overrides: Mapping[Callable[..., Any], Callable[..., Any]] | None,
    raise_app_exceptions: bool,
    options: Mapping[str, Any],
) -> AsyncIterator[ASGIClient]:
    """`open_client`, naming `culprit` in its messages; see `awaitest.asgi.open_client`."""
    __tracebackhide__ = True
    check_app(app, culprit)
    own = sorted(set(options) & set(_OWN_OPTIONS))
    if own:
        msg = (
            f"{culprit}: {', '.join(own)} cannot be passed on to httpx.AsyncClient: the client "
            "sends requests to the app through its own transport. Pass base_url and headers "
            "as keyword arguments; for a transport of your own, use httpx.AsyncClient directly."
        )
        raise ASGIUsageError(msg)
    if not isinstance(lifespan, bool):
        msg = f"{culprit}: lifespan={lifespan!r} is not True or False."
        raise ASGIUsageError(msg)
    _check_timeout("startup_timeout", startup_timeout, culprit)
    _check_timeout("shutdown_timeout", shutdown_timeout, culprit)
    async with contextlib.AsyncExitStack() as stack:
        target: ASGIApp = app
        state: dict[str, Any] = {}
        if lifespan:
            target, state = await stack.enter_async_context(
                run_lifespan(
                    app,
                    culprit=culprit,
                    startup_timeout=startup_timeout,
                    shutdown_timeout=shutdown_timeout,
                )
            )
        transport = StreamingASGITransport(target, raise_app_exceptions=raise_app_exceptions)
        client = ASGIClient(
            app, transport, state=state, base_url=base_url, headers=headers, **options
        )
        await stack.enter_async_context(client)
        stack.callback(client._overrides.end)
        for dependency, replacement in (overrides or {}).items():
            client._overrides.add(dependency, replacement, Lifetime.CLIENT, f"{culprit}: overrides")
        yield client
