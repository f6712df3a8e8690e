"""Event-loop factories: naming, importing and choosing loop implementations.

A loop factory is any zero-argument callable that returns a new event loop:
`asyncio.new_event_loop`, `uvloop.new_event_loop`, or a project's own. Users
name them in the ini file (`awaitest_loop_factory = uvloop`), on the command
line, or in the `awaitest` marker. This module turns those spellings into
`LoopFactory` values with short, readable ids (`asyncio`, `uvloop`) that
become test ids when tests run on several loops. It imports nothing from
pytest and never creates a loop itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from ._errors import ConfigError

NewLoop = Callable[[], asyncio.AbstractEventLoop]


@dataclasses.dataclass(frozen=True)
class LoopFactory:
    """A named way to make event loops.

    Attributes:
        id: Short name shown in test ids and the report header.
        new_loop: Zero-argument callable returning a new event loop.
    """

    id: str
    new_loop: NewLoop = dataclasses.field(compare=False)


def _new_uvloop() -> asyncio.AbstractEventLoop:
    import uvloop  # optional: imported only when asked for

    return uvloop.new_event_loop()


#: Shorthand names accepted wherever a factory is expected.
_SHORTHANDS: Final[Mapping[str, NewLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": _new_uvloop,
}

DEFAULT: Final = LoopFactory("asyncio", asyncio.new_event_loop)

_HOW: Final = (
    "write 'asyncio', 'uvloop' or 'package.module:callable', optionally prefixed "
    "with an id, as in 'fast=uvloop:new_event_loop'"
)


def _import(spec: str, source: str) -> NewLoop:
    module_name, _, attr_path = spec.partition(":")
    if not module_name or not attr_path:
        msg = f"{source}: {spec!r} is not a loop factory; {_HOW}."
        raise ConfigError(msg)
    try:
        obj: object = importlib.import_module(module_name)
        for attr in attr_path.split("."):
            obj = getattr(obj, attr)
    except (ImportError, AttributeError) as exc:
        msg = (
            f"{source}: cannot import the loop factory {spec!r} ({exc}). "
            "Install it or fix the name."
        )
        raise ConfigError(msg) from exc
    if not callable(obj):
        msg = f"{source}: {spec!r} is {obj!r}, which is not callable; {_HOW}."
        raise ConfigError(msg)
    return obj


def _check_importable(name: str, source: str) -> None:
    if name == "uvloop":
        try:
            importlib.import_module("uvloop")
        except ImportError as exc:
            msg = (
                f"{source}: the 'uvloop' loop factory needs uvloop, which is not installed. "
                "Install it with: pip install 'awaitest[uvloop]'."
            )
            raise ConfigError(msg) from exc


def _default_id(spec: str) -> str:
    return spec.partition(":")[0].split(".")[0]


def _callable_id(fn: Callable[..., object]) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    module = getattr(fn, "__module__", None) or ""
    top = module.split(".")[0]
    if top in ("asyncio", "uvloop"):
        return top
    # Never repr(): it may hold a memory address, and ids must be the same in every
    # process (pytest-xdist workers compare their collections).
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return str(name) if name else type(fn).__name__


def parse_one(value: object, source: str, *, id: str | None = None) -> LoopFactory:
    """Turn one spelling of a loop factory into a `LoopFactory`.

    Args:
        value: A shorthand (`"asyncio"`, `"uvloop"`), a `"module:callable"`
            string, optionally prefixed by `"id="`, or a callable.
        source: Where the value came from, for error messages.
        id: The id to use instead of the derived one.

    Returns:
        The factory.

    Raises:
        ConfigError: The value names nothing that makes loops.
    """
    if isinstance(value, str):
        spec = value.strip()
        if "=" in spec:
            given_id, _, spec = spec.partition("=")
            if not given_id.strip():
                msg = f"{source}: {value!r} has an empty id before '='; {_HOW}."
                raise ConfigError(msg)
            id = id or given_id.strip()
            spec = spec.strip()
        if spec in _SHORTHANDS:
            _check_importable(spec, source)
            return LoopFactory(id or spec, _SHORTHANDS[spec])
        return LoopFactory(id or _default_id(spec), _import(spec, source))
    if callable(value):
        return LoopFactory(id or _callable_id(value), value)
    msg = f"{source}: {value!r} is not a loop factory; {_HOW}, or pass a callable."
    raise ConfigError(msg)


def parse_many(value: object, source: str) -> tuple[LoopFactory, ...]:
    """Turn a loop-factory setting into one or more factories with unique ids.

    Args:
        value: One factory (see `parse_one`), a sequence of them, or a mapping
            of id to factory.
        source: Where the value came from, for error messages.

    Returns:
        The factories, in the order given.

    Raises:
        ConfigError: A value is not a factory, the setting is empty, or two
            factories would get the same id.
    """
    factories: list[LoopFactory]
    if isinstance(value, Mapping):
        factories = [parse_one(v, source, id=str(k)) for k, v in value.items()]
    elif isinstance(value, Iterable) and not isinstance(value, str):
        factories = [parse_one(v, source) for v in value]
    else:
        factories = [parse_one(value, source)]
    if not factories:
        msg = f"{source}: no loop factory given; {_HOW}."
        raise ConfigError(msg)
    seen: set[str] = set()
    for factory in factories:
        if factory.id in seen:
            msg = (
                f"{source}: two loop factories are both named {factory.id!r}; "
                f"give them distinct ids, as in 'a=pkg.mod:new_loop b=pkg.other:new_loop'."
            )
            raise ConfigError(msg)
        seen.add(factory.id)
    return tuple(factories)
