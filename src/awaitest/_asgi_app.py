"""What an ASGI app is, for `awaitest.asgi`: checking one, naming one, the errors about one.

`check_app` refuses, with a message saying what was passed instead and the
fix, the objects users hand over by mistake: a module, a factory not yet
called, a WSGI app, anything not callable. It cannot prove an object is an
ASGI app (a callable taking three arguments may return anything); it only
catches what is surely not one. `describe` names an app in messages.
Nothing here imports httpx or pytest.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._errors import AwaitestError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ASGIUsageError(AwaitestError, TypeError):
    """`awaitest.asgi` was called with something it cannot use (not an ASGI app, say)."""

    __module__ = "awaitest.asgi"


class AppError(AwaitestError, RuntimeError):
    """The ASGI app under test failed in a way the test did not ask about.

    For example it returned without sending a response.
    """

    __module__ = "awaitest.asgi"


class LifespanError(AppError):
    """The app's lifespan startup or shutdown failed, timed out, or is not supported."""

    __module__ = "awaitest.asgi"


def describe(app: object) -> str:
    """Name an app for messages: "app 'shop.main.app'" or "FastAPI app".

    Functions and classes are named by where they are defined; other objects
    (the usual `app = FastAPI()`) by their class.
    """
    if isinstance(app, functools.partial):
        return f"{describe(app.func)} (in a functools.partial)"
    qualname = getattr(app, "__qualname__", None)
    module = getattr(app, "__module__", None)
    if isinstance(qualname, str) and isinstance(module, str) and not _is_instance(app):
        return f"app '{module}.{qualname}'"
    return f"{type(app).__qualname__} app"


def _is_instance(app: object) -> bool:
    """Whether `app` is a plain object rather than a function, method or class."""
    return not (inspect.isroutine(app) or inspect.isclass(app))


def check_app(app: object, culprit: str) -> None:
    """Raise `ASGIUsageError` if `app` is surely not an ASGI application.

    Args:
        app: What the user passed as the app.
        culprit: Who passed it, to start the message: "open_client()",
            "fixture 'client'".

    Raises:
        ASGIUsageError: `app` is a module, a string, not callable, or a
            callable that cannot take (scope, receive, send).
    """
    __tracebackhide__ = True
    problem = _why_not_asgi(app)
    if problem is not None:
        msg = f"{culprit}: {problem}"
        raise ASGIUsageError(msg)


def _why_not_asgi(app: object) -> str | None:
    """Say why `app` is not an ASGI app, or return None if it may be one."""
    expected = "an ASGI app is an async callable taking (scope, receive, send)"
    if inspect.ismodule(app):
        return (
            f"got the module {app.__name__!r}, not an ASGI app. Pass the application object "
            f"it defines, e.g. {app.__name__}.app."
        )
    if isinstance(app, str):
        return (
            f"got the string {app!r}, not an ASGI app. Pass the application object; "
            "to name a fixture that provides the app, use client_fixture()."
        )
    if not callable(app):
        shown = repr(app)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return (
            f"got {shown} ({type(app).__name__}), which is not an ASGI app: {expected}. "
            "Pass the application object, e.g. the FastAPI() or Starlette() instance."
        )
    call = app.__call__ if _is_instance(app) else app
    if inspect.iscoroutinefunction(call):
        return None
    try:
        signature = inspect.signature(app)
    except (TypeError, ValueError):  # builtins and C extensions: cannot tell
        return None
    if _binds(signature, 3):
        return None  # it may return an awaitable
    if _binds(signature, 0):
        name = getattr(app, "__name__", "app")
        return (
            f"{describe(app)} takes no arguments, so it looks like an app factory (or a "
            f"class), not an app: {expected}. Pass the app it makes, e.g. {name}()."
        )
    if _binds(signature, 2):
        return (
            f"{describe(app)} takes two arguments, so it looks like a WSGI app "
            f"(environ, start_response), and {expected}. Wrap it for ASGI "
            "(asgiref.wsgi.WsgiToAsgi(app)), or test it with a WSGI client."
        )
    return f"{describe(app)} cannot be called as (scope, receive, send): {expected}."


def _binds(signature: inspect.Signature, count: int) -> bool:
    """Whether a callable with `signature` accepts `count` positional arguments."""
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True
