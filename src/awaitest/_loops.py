"""Event-loop factories: naming, importing and choosing loop implementations.

A loop factory is any zero-argument callable that returns a new event loop:
`asyncio.new_event_loop`, `uvloop.new_event_loop`, or a project's own. Users
name them in the ini file (`awaitest_loop_factory = uvloop`), on the command
line, or in the `awaitest` marker. This module turns those spellings into
`LoopFactory` values with short, readable ids (`asyncio`, `uvloop`) that
become test ids when tests run on several loops. It imports nothing from
pytest.

The default factory (`asyncio`) makes a new loop object for every owner, as
`asyncio.new_event_loop()` does, but keeps the two expensive parts of a
closed one, its selector and its self-pipe socket pair, for the next loop
(`close_loop`): a new loop costs about 45 us with them and 17 us without.
Nothing of the old loop survives in the new one but those parts: a selector
is handed on only if it never held anything but the self-pipe, a self-pipe
only if no signal handler used it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import functools
import importlib
import os
import selectors
import socket
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

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

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close a loop this factory made (see `close_loop`)."""
        close_loop(loop)


# -- the default factory: new loops around a closed loop's selector and self-pipe --------

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # policies: deprecated in 3.14
    _DEFAULT_POLICY: Any = getattr(asyncio, "DefaultEventLoopPolicy", None)

#: The class asyncio's default policy makes loops of, if it is a selector loop (not on Windows).
_LOOP_CLASS: Final[Any] = (
    asyncio.SelectorEventLoop
    if getattr(_DEFAULT_POLICY, "_loop_factory", None) is getattr(asyncio, "SelectorEventLoop", 0)
    else None
)

#: Recycled parts kept at most (a test's loop and a few wider ones are open at a time).
_POOL_SIZE: Final = 4


class _Selector(selectors.DefaultSelector):
    """The platform's default selector, counting what was ever registered with it.

    One that only ever held a loop's self-pipe is as good as new for the next loop
    (`modify` and `unregister` never add a registration; closing a file the kernel
    still watches through a duplicate would leave one behind, unseen).
    """

    def __init__(self) -> None:
        super().__init__()
        self.registrations = 0

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = super().register(fileobj, events, data)
        self.registrations += 1
        return key


def _attribute_names() -> frozenset[str]:
    selector = _Selector()
    selector.close()
    return frozenset(vars(selector))


#: The instance attributes of an untouched selector (another one: patched, not reused).
_SELECTOR_ATTRS: Final = _attribute_names() if _LOOP_CLASS else frozenset()


class _Parts:
    """What a closed loop hands to the next: its self-pipe, and its selector if clean."""

    __slots__ = ("csock", "pid", "selector", "ssock")

    def __init__(self, selector: _Selector | None, ssock: socket.socket, csock: socket.socket):
        self.selector = selector
        self.ssock = ssock
        self.csock = csock
        self.pid = os.getpid()

    def close(self) -> None:
        if self.selector is not None:
            self.selector.close()
        self.ssock.close()
        self.csock.close()


_POOL: list[_Parts] = []


def _adopt_pipe(loop: Any, parts: _Parts) -> None:
    """`_make_self_pipe` for a loop taking over `parts`' socket pair (asyncio's, minus the pair)."""
    loop._ssock, loop._csock = parts.ssock, parts.csock
    loop._internal_fds += 1
    loop._add_reader(parts.ssock.fileno(), loop._read_from_self)


def _detach_pipe(loop: Any, parts: _Parts, keep_selector: bool) -> None:
    """`_close_self_pipe` for a loop giving its parts on: forget the pair, do not close it."""
    selector = parts.selector
    assert selector is not None
    fd = parts.ssock.fileno()
    key = selector.get_map().get(fd)
    if key is not None:
        reader = key.data[0] if key.data else None
        if reader is not None:
            reader.cancel()
        if keep_selector:
            # The next loop's _add_reader replaces the data, with no system call; until then
            # nothing refers to this loop (its tests check that closed loops are freed).
            selector.modify(fd, selectors.EVENT_READ, (None, None))
    loop._ssock = None
    loop._csock = None
    loop._internal_fds -= 1


def new_asyncio_loop() -> asyncio.AbstractEventLoop:
    """Return a new asyncio event loop, as `asyncio.new_event_loop()` would.

    With asyncio's own policy on a platform whose loops use a selector, the
    loop is built around the selector and self-pipe of a loop `close_loop`
    closed, if there is one; otherwise (a project's policy, Windows) this is
    `asyncio.new_event_loop()`.
    """
    cls = _LOOP_CLASS
    policy = getattr(asyncio.events, "_event_loop_policy", None)
    if cls is None or (policy is not None and type(policy) is not _DEFAULT_POLICY):
        return asyncio.new_event_loop()
    parts = _POOL.pop() if _POOL else None
    if parts is not None and parts.pid != os.getpid():
        _release(parts)  # a forked child's copy of the parent's parts
        parts = None
    loop: Any
    if parts is None:
        selector = _Selector()
        loop = cls(selector)
        parts = _Parts(selector, loop._ssock, loop._csock)
    else:
        if parts.selector is None:
            parts.selector = _Selector()
        loop = cls.__new__(cls)
        # asyncio's __init__ makes a socket pair in _make_self_pipe(): take this one instead.
        loop._make_self_pipe = functools.partial(_adopt_pipe, loop, parts)
        try:
            cls.__init__(loop, parts.selector)
        finally:
            del loop._make_self_pipe
    loop._awaitest_parts = parts
    return loop  # type: ignore[no-any-return]


def close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close `loop` as `loop.close()` does; keep a loop of `new_asyncio_loop`'s parts.

    The loop object is closed for good, as asyncio closes it: it forgets its
    self-pipe and selector, and every later use raises. Its socket pair goes to
    the next loop unless a signal handler still uses it (as the signal wakeup
    fd); its selector too if nothing but the self-pipe was ever registered
    with it and nothing patched it. Anything else is closed, as asyncio would.
    """
    if loop.is_running():
        loop.close()  # asyncio's RuntimeError
    parts: _Parts | None = vars(loop).pop("_awaitest_parts", None)
    raw: Any = loop
    selector = parts.selector if parts is not None else None
    if parts is None or selector is None or not _can_hand_on(raw, parts, selector):
        loop.close()
        if parts is not None:
            _release(parts)  # what the loop no longer closes itself (all of it is idempotent)
        return
    keep_selector = selector.registrations == 1 and vars(selector).keys() == _SELECTOR_ATTRS
    raw._selector = None  # a closed loop has none; asyncio's close() then leaves it open
    raw._close_self_pipe = functools.partial(_detach_pipe, loop, parts, keep_selector)
    try:
        loop.close()
    finally:
        del raw._close_self_pipe
    if not keep_selector:
        selector.close()
        parts.selector = None
    if len(_POOL) < _POOL_SIZE:
        _POOL.append(parts)
    else:
        _release(parts)


def _can_hand_on(loop: Any, parts: _Parts, selector: _Selector) -> bool:
    """Whether a loop about to close still uses its parts, and only as asyncio does."""
    current = loop._selector  # the selector itself, or the blocking guard's probe around it
    return (
        not loop.is_closed()
        and parts.pid == os.getpid()
        and loop._ssock is parts.ssock
        and (current is selector or getattr(current, "_selector", None) is selector)
        and not getattr(loop, "_signal_handlers", None)  # the self-pipe is the wakeup fd
        and parts.ssock.fileno() >= 0
        and parts.csock.fileno() >= 0
    )


def _release(parts: _Parts) -> None:
    with contextlib.suppress(OSError):  # a forked child's copy, already gone
        parts.close()


def release_pool() -> None:
    """Close the parts kept for new loops (at the end of a session, and at exit)."""
    while _POOL:
        _release(_POOL.pop())


atexit.register(release_pool)
if hasattr(os, "register_at_fork"):
    # A child must not share the parent's selector (one epoll instance) or self-pipe.
    os.register_at_fork(after_in_child=release_pool)


def _new_uvloop() -> asyncio.AbstractEventLoop:
    import uvloop  # optional: imported only when asked for

    return uvloop.new_event_loop()


#: Shorthand names accepted wherever a factory is expected.
_SHORTHANDS: Final[Mapping[str, NewLoop]] = {
    "asyncio": new_asyncio_loop,
    "uvloop": _new_uvloop,
}

DEFAULT: Final = LoopFactory("asyncio", new_asyncio_loop)

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
