"""Async fixtures: the `awaitest.fixture` decorator and how pytest runs them.

pytest calls fixture functions synchronously. For an async fixture awaitest
lends pytest a sync stand-in for the duration of one setup
(`adapt`): a function that runs a coroutine fixture to completion on the
fixture's loop, or a generator that starts an async-generator fixture in its
own task and, at teardown, lets that same task finish it. pytest keeps doing
everything else (caching, parametrization, finalizer order, error reports).
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import Any, Literal, TypeVar, cast, overload

import pytest

from . import _collect, _scope
from ._collect import FixtureOptions, Kind
from ._contexts import ContextPatch
from ._errors import ConfigError, FixtureError
from ._runner import LoopRunner

F = TypeVar("F", bound=Callable[..., Any])

_Scope = Literal["session", "package", "module", "class", "function"]


@overload
def fixture(
    fixture_function: F,
    *,
    scope: _Scope | Callable[[str, pytest.Config], _Scope] = ...,
    loop_scope: _Scope | None = ...,
    params: Iterable[object] | None = ...,
    autouse: bool = ...,
    ids: Sequence[object | None] | Callable[[Any], object | None] | None = ...,
    name: str | None = ...,
) -> F: ...


@overload
def fixture(
    fixture_function: None = ...,
    *,
    scope: _Scope | Callable[[str, pytest.Config], _Scope] = ...,
    loop_scope: _Scope | None = ...,
    params: Iterable[object] | None = ...,
    autouse: bool = ...,
    ids: Sequence[object | None] | Callable[[Any], object | None] | None = ...,
    name: str | None = ...,
) -> Callable[[F], F]: ...


def fixture(
    fixture_function: F | None = None,
    *,
    scope: _Scope | Callable[[str, pytest.Config], _Scope] = "function",
    loop_scope: _Scope | None = None,
    params: Iterable[object] | None = None,
    autouse: bool = False,
    ids: Sequence[object | None] | Callable[[Any], object | None] | None = None,
    name: str | None = None,
) -> F | Callable[[F], F]:
    """Declare a fixture, sync or async, that awaitest runs in every mode.

    Takes every argument of `pytest.fixture`, plus `loop_scope`. In the
    default auto mode a plain `pytest.fixture` works for async fixtures too;
    this decorator is what strict mode asks for, and the way to pin a
    fixture to a loop.

    Args:
        fixture_function: The function, when used as `@awaitest.fixture`.
        scope: As for `pytest.fixture`.
        loop_scope: The scope of the event loop the fixture runs on
            ("function" ... "session"); at least as wide as `scope`. By
            default awaitest chooses (see the README's "Loops").
        params: As for `pytest.fixture`.
        autouse: As for `pytest.fixture`.
        ids: As for `pytest.fixture`.
        name: As for `pytest.fixture`.

    Returns:
        The fixture (or a decorator making one).

    Raises:
        ConfigError: `loop_scope` is not a loop scope, or narrower than `scope`.
    """
    if loop_scope is not None and not _scope.is_scope(loop_scope):
        msg = (
            f"awaitest.fixture(loop_scope={loop_scope!r}) is not a loop scope; "
            f"expected one of: {', '.join(_scope.LOOP_SCOPES)}."
        )
        raise ConfigError(msg)

    def decorate(func: F) -> F:
        if isinstance(scope, str):
            error = _collect.check_fixture_loop_scope(name or func.__name__, scope, loop_scope)
            if error is not None:
                raise ConfigError(error)
        setattr(func, _collect.FIXTURE_ATTR, FixtureOptions(loop_scope=loop_scope))
        made = pytest.fixture(scope=scope, params=params, autouse=autouse, ids=ids, name=name)
        return cast("F", made(func))

    if fixture_function is not None:
        return decorate(fixture_function)
    return decorate


async def _with_context(coro: Any) -> tuple[Any, contextvars.Context]:
    value = await coro
    return value, contextvars.copy_context()


@contextlib.contextmanager
def _reported_plainly() -> Iterator[None]:
    """Report awaitest's own fixture errors as a message, without its internals' traceback."""
    __tracebackhide__ = True
    try:
        yield
    except FixtureError as exc:
        raise pytest.fail.Exception(str(exc), pytrace=False) from None


def with_current_loop(
    func: Callable[..., Any], runner: LoopRunner, loops: Any, name: str
) -> Callable[..., Any]:
    """Return a sync fixture function that runs with `runner`'s loop as the current one.

    For sync fixtures made with `awaitest.fixture` or `pytest_asyncio.fixture`:
    pytest-asyncio runs them with their loop current, so code such as
    `asyncio.get_event_loop()` in them sees the loop their async peers use.
    """
    if not inspect.isgeneratorfunction(func):

        def call_sync_fixture(**kwargs: Any) -> Any:
            with loops.current(runner):
                return func(**kwargs)

        return call_sync_fixture

    def run_sync_generator_fixture(**kwargs: Any) -> Generator[Any, None, None]:
        generator = func(**kwargs)
        with loops.current(runner):
            value = next(generator)
        yield value
        with loops.current(runner):
            for _ in generator:
                pytest.fail(f"fixture {name!r} has more than one 'yield'", pytrace=False)

    return run_sync_generator_fixture


def adapt(
    kind: Kind,
    func: Callable[..., Any],
    runner: LoopRunner,
    request: pytest.FixtureRequest,
) -> Callable[..., Any]:
    """Return the sync stand-in pytest calls instead of an async fixture function.

    Args:
        kind: Coroutine or async generator.
        func: The fixture function, bound as pytest would bind it.
        runner: The loop the fixture runs on.
        request: The fixture's request, for its name and finalizers.
    """
    name = request.fixturename or str(getattr(func, "__name__", "?"))
    wide = request.scope != "function"  # its tasks are its own, not the current test's

    if kind is Kind.COROUTINE:

        def run_coroutine_fixture(**kwargs: Any) -> Any:
            __tracebackhide__ = True
            with _reported_plainly():
                value, snapshot = runner.run(
                    lambda: _with_context(func(**kwargs)),
                    contextvars.copy_context(),
                    f"setup of fixture {name!r}",
                    wide=wide,
                )
            request.addfinalizer(ContextPatch(snapshot).undo)
            return value

        return run_coroutine_fixture

    def run_asyncgen_fixture(**kwargs: Any) -> Generator[Any, None, None]:
        __tracebackhide__ = True
        with _reported_plainly():
            lifetime = runner.start_fixture(
                lambda: func(**kwargs), contextvars.copy_context(), name, wide=wide
            )
        assert lifetime.context is not None
        patch = ContextPatch(lifetime.context)
        yield lifetime.value
        patch.undo()
        with _reported_plainly():
            lifetime.finish()

    return run_asyncgen_fixture
