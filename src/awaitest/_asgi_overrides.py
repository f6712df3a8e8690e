"""FastAPI dependency overrides that undo themselves, for `awaitest.asgi`.

`Overrides` writes into `app.dependency_overrides` (FastAPI's own mechanism)
and remembers what each key held before, so overrides can end in any order:
ending one restores the latest override still active for that dependency,
or what the app had before the client touched it. Each `Override` ends by
`undo()`, at the end of a `with` block, at the end of the test (a client from
`client_fixture`), or when the client closes. Nothing here imports httpx or
pytest.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, MutableMapping
from types import TracebackType
from typing import Any, Final

from ._asgi_app import ASGIUsageError, describe

_MISSING: Final = object()


class Lifetime(enum.Enum):
    """How long an override lasts if nobody calls `undo()`."""

    TEST = "until the end of the test"  # client.override(...)
    BLOCK = "until the with block ends"  # with client.override(...):
    CLIENT = "until the client closes"  # open_client(..., overrides=...)


def _name(obj: object) -> str:
    return str(getattr(obj, "__name__", None) or repr(obj))


class Override:
    """One dependency override; `undo()` ends it, and so does leaving a `with` block.

    Made by `ASGIClient.override`. Undoing twice does nothing.

    Attributes:
        dependency: The dependency replaced (the function given to `Depends()`).
        replacement: What FastAPI calls instead.
    """

    __module__ = "awaitest.asgi"

    def __init__(
        self,
        owner: Overrides,
        dependency: Callable[..., Any],
        replacement: Callable[..., Any],
        lifetime: Lifetime,
    ) -> None:
        self.dependency = dependency
        self.replacement = replacement
        self.lifetime = lifetime
        self._owner = owner

    def __repr__(self) -> str:
        return (
            f"<Override {_name(self.dependency)} -> {_name(self.replacement)}, "
            f"{self.lifetime.value}>"
        )

    def undo(self) -> None:
        """End the override: FastAPI calls the dependency (or an earlier override) again."""
        self._owner.remove(self)

    def __enter__(self) -> Override:
        self.lifetime = Lifetime.BLOCK
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.undo()


class Overrides:
    """The overrides one client made on one app, in the order they were made.

    Args:
        app: The app whose `dependency_overrides` they go into.
    """

    def __init__(self, app: object) -> None:
        self._app = app
        self._active: list[Override] = []
        self._before: dict[Any, Any] = {}  # dependency -> what the app had, or _MISSING

    def add(
        self,
        dependency: object,
        replacement: object,
        lifetime: Lifetime,
        culprit: str,
    ) -> Override:
        """Override `dependency` with `replacement` now.

        Args:
            dependency: The function the app declares with `Depends()`.
            replacement: What FastAPI should call instead.
            lifetime: When the override ends if nobody undoes it.
            culprit: Who asked, to start error messages.

        Returns:
            The override.

        Raises:
            ASGIUsageError: The app has no `dependency_overrides`, or either
                argument is not callable.
        """
        __tracebackhide__ = True
        mapping = self._mapping(culprit)
        if not callable(dependency):
            msg = (
                f"{culprit}: the dependency to override is the function the app passes to "
                f"Depends(), e.g. override(get_db, fake_db); got {dependency!r}."
            )
            raise ASGIUsageError(msg)
        if not callable(replacement):
            msg = (
                f"{culprit}: the replacement for {_name(dependency)} must be callable, as "
                f"FastAPI calls it instead; got {replacement!r}. To return a value, pass "
                "lambda: value."
            )
            raise ASGIUsageError(msg)
        if dependency not in self._before:
            self._before[dependency] = mapping.get(dependency, _MISSING)
        override = Override(self, dependency, replacement, lifetime)
        self._active.append(override)
        mapping[dependency] = replacement
        return override

    def _mapping(self, culprit: str) -> MutableMapping[Any, Any]:
        __tracebackhide__ = True
        mapping = getattr(self._app, "dependency_overrides", None)
        if not isinstance(mapping, MutableMapping):
            msg = (
                f"{culprit}: {describe(self._app)} has no dependency_overrides, so its "
                "dependencies cannot be overridden (a FastAPI feature). Give the client the "
                "FastAPI app itself, not one wrapped in middleware; other frameworks replace "
                "dependencies their own way."
            )
            raise ASGIUsageError(msg)
        return mapping

    def remove(self, override: Override) -> None:
        """End one override (nothing if it has ended already)."""
        if override not in self._active:
            return
        self._active.remove(override)
        dependency = override.dependency
        mapping: MutableMapping[Any, Any] = getattr(self._app, "dependency_overrides", {})
        for other in reversed(self._active):
            if other.dependency == dependency:
                mapping[dependency] = other.replacement
                return
        before = self._before.pop(dependency)
        if before is _MISSING:
            mapping.pop(dependency, None)
        else:
            mapping[dependency] = before

    def end(self, lifetimes: tuple[Lifetime, ...] = tuple(Lifetime)) -> None:
        """End the active overrides of these lifetimes, newest first."""
        for override in reversed(self._active):
            if override.lifetime in lifetimes:
                override.undo()
