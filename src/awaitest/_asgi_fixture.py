"""`client_fixture`: a pytest fixture giving an `ASGIClient`, in one line of a conftest.

The fixture is an async-generator fixture made with `awaitest.fixture`, so
it runs in strict mode too, and its setup and teardown (lifespan startup and
shutdown) run in one task on one loop with the tests that use it. The app
is an object, checked when the conftest is imported, or the name of a
fixture providing it. A client wider than one test ends the overrides each
test made (`client.override(...)`) at that test's teardown, through a
`pytest_runtest_teardown` wrapper registered for the client's lifetime.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import pathlib
import traceback
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from typing import Any, Final, Literal

import asgi_lifespan
import pytest

from ._asgi_app import AppError, ASGIApp, ASGIUsageError, check_app
from ._asgi_client import ASGIClient, open_asgi_client
from ._asgi_overrides import Lifetime
from ._errors import ConfigError
from ._fixtures import fixture

_Scope = Literal["session", "package", "module", "class", "function"]

#: Where the code between a fixture and the app lives: awaitest, asgi-lifespan, asyncio.
_PLUMBING: Final = (
    pathlib.Path(__file__).parent,
    pathlib.Path(asgi_lifespan.__file__ or "").parent,
    pathlib.Path(asyncio.__file__ or "").parent,
)
_PLUMBING_FILES: Final = (contextlib.__file__,)


class _EndTestOverrides:
    """A pytest plugin, registered while one wide client is open: ends each test's overrides."""

    def __init__(self, client: ASGIClient) -> None:
        self.client = client

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self) -> Generator[None, object, object]:
        try:
            return (yield)
        finally:
            self.client._overrides.end((Lifetime.TEST,))


@contextlib.contextmanager
def _reported_plainly() -> Iterator[None]:
    """Report the client's errors as their message and the app's own traceback.

    The full traceback of a fixture error would mostly show the event loop,
    asgi-lifespan and awaitest; what the user needs is the message and where
    the app failed.
    """
    __tracebackhide__ = True
    try:
        yield
    except (AppError, ASGIUsageError) as exc:
        msg = str(exc)
        cause = exc.__cause__
        if cause is not None:
            tb = cause.__traceback__
            while tb is not None and _is_plumbing(tb.tb_frame.f_code.co_filename):
                tb = tb.tb_next
            trace = "".join(traceback.format_exception(type(cause), cause, tb)).rstrip()
            msg = f"{msg}\n{trace}"
        raise pytest.fail.Exception(msg, pytrace=False) from None


def _is_plumbing(filename: str) -> bool:
    """Whether a traceback entry is in code between the fixture and the app."""
    path = pathlib.Path(filename)
    return filename in _PLUMBING_FILES or any(path.is_relative_to(dir) for dir in _PLUMBING)


def client_fixture(
    app: ASGIApp | str,
    *,
    scope: _Scope = "function",
    name: str | None = None,
    base_url: str = "http://testserver",
    headers: Mapping[str, str] | None = None,
    lifespan: bool = True,
    startup_timeout: float | None = 5.0,
    shutdown_timeout: float | None = 5.0,
    overrides: Mapping[Callable[..., Any], Callable[..., Any]] | None = None,
    raise_app_exceptions: bool = True,
    **options: Any,
) -> Callable[..., AsyncIterator[ASGIClient]]:
    """Make a fixture that gives tests an `ASGIClient` for `app`.

    Assign it in a conftest or test module; the variable names the fixture:
    `client = client_fixture(app)`. The app's lifespan starts before the
    fixture's first use and shuts down at the end of its scope.

    Args:
        app: The ASGI app, or the name of a fixture that provides it (for an
            app built per test or per session by a factory).
        scope: The fixture's scope: how long one client and one lifespan last.
        name: The fixture's name, if not the variable's.
        base_url: As for `open_client`.
        headers: As for `open_client`.
        lifespan: As for `open_client`.
        startup_timeout: As for `open_client`.
        shutdown_timeout: As for `open_client`.
        overrides: As for `open_client`: dependency overrides for the
            client's whole lifetime.
        raise_app_exceptions: As for `open_client`.
        **options: As for `open_client`: passed on to `httpx.AsyncClient`.

    Returns:
        The fixture.

    Raises:
        ASGIUsageError: `app` is an object that is not an ASGI app.
        ConfigError: `app` is a string that cannot name a fixture.
    """
    __tracebackhide__ = True
    if isinstance(app, str):
        if not app.isidentifier():
            msg = (
                f"client_fixture({app!r}): {app!r} is not a fixture name. Pass the app itself "
                "(imported: from shop import app; client_fixture(app)), or the name of a "
                "fixture that provides it."
            )
            raise ConfigError(msg)
    else:
        check_app(app, "client_fixture()")

    async def asgi_client(
        request: pytest.FixtureRequest, **fixtures: Any
    ) -> AsyncIterator[ASGIClient]:
        __tracebackhide__ = True
        target = fixtures[app] if isinstance(app, str) else app
        with _reported_plainly():
            async with open_asgi_client(
                target,
                culprit=f"fixture {request.fixturename!r}"
                + (f" (the app of fixture {app!r})" if isinstance(app, str) else ""),
                base_url=base_url,
                headers=headers,
                lifespan=lifespan,
                startup_timeout=startup_timeout,
                shutdown_timeout=shutdown_timeout,
                overrides=overrides,
                raise_app_exceptions=raise_app_exceptions,
                options=options,
            ) as client:
                plugin = None
                if request.scope != "function":
                    plugin = _EndTestOverrides(client)
                    request.config.pluginmanager.register(plugin)
                try:
                    yield client
                finally:
                    if plugin is not None:
                        request.config.pluginmanager.unregister(plugin)

    parameters = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    if isinstance(app, str):
        parameters.append(inspect.Parameter(app, inspect.Parameter.KEYWORD_ONLY))
    # pytest reads the fixtures a function requests from its signature.
    setattr(asgi_client, "__signature__", inspect.Signature(parameters))  # noqa: B010
    return fixture(asgi_client, scope=scope, name=name)
