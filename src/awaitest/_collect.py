"""Which tests and fixtures are async, and which of them awaitest runs.

Classifies a test function or fixture function (coroutine, async generator,
Hypothesis-wrapped coroutine, plain) and decides, from the mode and the
markers, whether it is awaitest's to run or belongs to another async
framework (anyio, trio). It does not decide which loop anything runs on
(`_plan`), nor run anything.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
from collections.abc import Callable
from typing import Any, Final

import pytest

from . import _scope
from ._compat.pytest_asyncio import fixture_loop_scope as pytest_asyncio_fixture_options
from ._config import Mode, Settings

#: Attribute `awaitest.fixture` sets on the functions it decorates.
FIXTURE_ATTR: Final = "__awaitest_fixture__"

#: Markers of other async frameworks whose tests awaitest leaves alone.
_FOREIGN_MARKERS: Final = ("anyio", "trio")

#: Every marker awaitest reads on a test: its own, pytest-asyncio's, other frameworks'.
_READ_MARKERS: Final = frozenset({"awaitest", "asyncio", *_FOREIGN_MARKERS})


class Kind(enum.Enum):
    """What kind of callable a test or fixture function is."""

    SYNC = "sync"
    COROUTINE = "coroutine"
    ASYNCGEN = "async generator"
    HYPOTHESIS = "hypothesis"  # @given wrapping a coroutine function


def kind_of(func: object) -> Kind:
    """Classify a test or fixture function."""
    if inspect.iscoroutinefunction(func):
        return Kind.COROUTINE
    if inspect.isasyncgenfunction(func):
        return Kind.ASYNCGEN
    if getattr(func, "is_hypothesis_test", False):
        inner = getattr(getattr(func, "hypothesis", None), "inner_test", None)
        if inspect.iscoroutinefunction(inner):
            return Kind.HYPOTHESIS
    return Kind.SYNC


@dataclasses.dataclass(frozen=True)
class FixtureOptions:
    """What `awaitest.fixture` records on a fixture function."""

    loop_scope: str | None = None


@dataclasses.dataclass(frozen=True)
class FixtureSpec:
    """What awaitest needs to know about one fixture definition.

    Attributes:
        kind: Coroutine, async generator or sync.
        loop_scope: The loop scope the fixture asked for, or None.
        ours_in_strict: Made with `awaitest.fixture` (so strict mode runs it).
    """

    kind: Kind
    loop_scope: str | None
    ours_in_strict: bool

    @property
    def is_async(self) -> bool:
        """Whether the fixture needs an event loop."""
        return self.kind is Kind.COROUTINE or self.kind is Kind.ASYNCGEN


def fixture_spec(func: Callable[..., Any]) -> FixtureSpec:
    """Classify a fixture function (made by `awaitest.fixture`, `pytest_asyncio.fixture` or not)."""
    options = getattr(func, FIXTURE_ATTR, None)
    if isinstance(options, FixtureOptions):
        return FixtureSpec(kind_of(func), options.loop_scope, ours_in_strict=True)
    # A fixture made by the real pytest_asyncio.fixture (with -p no:asyncio).
    made_by_pytest_asyncio, loop_scope = pytest_asyncio_fixture_options(func)
    return FixtureSpec(kind_of(func), loop_scope, ours_in_strict=made_by_pytest_asyncio)


def fixture_loop_scope(spec: FixtureSpec, scope: str, settings: Settings) -> str | None:
    """Return the loop scope a fixture is pinned to, or None to let awaitest choose.

    An explicit `loop_scope` (decorator) or `awaitest_default_loop_scope` pins
    the fixture, widened to its own scope. pytest-asyncio's
    `asyncio_default_fixture_loop_scope` pins it only when it asks for a loop
    wider than the fixture: asking for a narrower one is where pytest-asyncio
    fails (the loop would close under the fixture), and asking for the
    fixture's own scope is what awaitest does anyway.
    """
    if spec.loop_scope is not None:
        return _scope.wider(spec.loop_scope, scope)
    if settings.default_loop_scope is not None:
        return _scope.wider(settings.default_loop_scope, scope)
    compat = settings.compat_fixture_loop_scope
    if _scope.is_scope(compat) and _scope.rank(compat) > _scope.rank(scope):
        return compat
    return None


def has_read_markers(node: pytest.Item) -> bool:
    """Whether `node` or a parent carries a marker awaitest reads (one walk up the tree).

    Most tests carry none: then the options and frameworks they mark need
    no reading (each lookup by name walks the tree again).
    """
    return any(mark.name in _READ_MARKERS for mark in node.iter_markers())


def foreign_framework(item: pytest.Item, *, marked: bool = True) -> str | None:
    """Return the async framework (other than awaitest) that owns `item`, if any.

    `marked=False`: the caller knows `item` carries none of the markers read.
    """
    for name in _FOREIGN_MARKERS if marked else ():
        if item.get_closest_marker(name) is not None:
            return name
    if "anyio_backend" in getattr(item, "fixturenames", ()):
        return "anyio"
    return None


def claims_test(kind: Kind, marked: bool, mode: Mode) -> bool:
    """Whether awaitest runs a test of this kind, given its marker and the mode."""
    if kind is Kind.SYNC:
        return False
    return mode is Mode.AUTO or marked


def check_fixture_loop_scope(name: str, scope: str, loop_scope: str | None) -> str | None:
    """Return an error message if a fixture's loop would close before the fixture."""
    if loop_scope is None or _scope.rank(loop_scope) >= _scope.rank(scope):
        return None
    return (
        f"fixture {name!r} has scope={scope!r} but loop_scope={loop_scope!r}: its loop "
        f"would close while the fixture is still in use. Use loop_scope={scope!r} "
        "(or wider), or drop loop_scope to let awaitest choose."
    )
