"""Where things are: creation sites, await chains and blocked lines, in user code.

Messages point at the user's code, not at asyncio's or awaitest's: these
helpers walk coroutine origins (`sys.set_coroutine_origin_tracking_depth`),
the chain of awaits a task is suspended in, and a thread's frames, and skip
frames from the standard library, installed packages, pytest and awaitest.
Nothing here imports pytest.
"""

from __future__ import annotations

import asyncio
import functools
import linecache
import os
import sys
import types
from collections.abc import Iterable, Iterator
from typing import Any, Final, NamedTuple

#: How many frames a coroutine's origin keeps while guards are on: enough to get from a
#: library's coroutine (an AsyncMock's) back to the user's call.
ORIGIN_DEPTH: Final = 8

_OWN_DIR: Final = os.path.normcase(os.path.dirname(os.path.realpath(__file__))) + os.sep
_TOOL_PARTS: Final = (f"{os.sep}_pytest{os.sep}", f"{os.sep}pluggy{os.sep}")
_user_cache: dict[str, bool] = {}


@functools.cache
def _not_user_dirs() -> tuple[str, ...]:
    """Ours, the standard library's and installed packages' directories.

    Worked out at the first message that needs them, not at import: `sysconfig`
    takes a few milliseconds to load, at the start of every run.
    """
    import sysconfig

    libraries = {
        os.path.normcase(os.path.realpath(p)) + os.sep
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (p := sysconfig.get_paths().get(key))
    } | {
        os.path.normcase(os.path.dirname(os.path.realpath(m.__file__))) + os.sep
        for m in (asyncio, os)
        if m.__file__
    }
    return (_OWN_DIR, *libraries)


def is_user_file(filename: str) -> bool:
    """Whether a file is the project's code (not Python's, a library's, pytest's or ours)."""
    known = _user_cache.get(filename)
    if known is None:
        if filename.startswith("<"):
            known = False
        else:
            path = os.path.normcase(os.path.realpath(filename))
            known = not (
                path.startswith(_not_user_dirs()) or any(part in path for part in _TOOL_PARTS)
            )
        _user_cache[filename] = known
    return known


class Site(NamedTuple):
    """A place in the code."""

    filename: str
    lineno: int
    name: str

    def __str__(self) -> str:
        return f"{_short(self.filename)}:{self.lineno}"

    @property
    def source(self) -> str:
        """The line of code, stripped ('' if unavailable)."""
        return linecache.getline(self.filename, self.lineno).strip()

    def describe(self) -> str:
        """'file:line in name' and the source line, on two lines."""
        text = f"{self} in {self.name}"
        source = self.source
        return f"{text}\n    {source}" if source else text


def _short(filename: str) -> str:
    try:
        rel = os.path.relpath(filename)
    except ValueError:  # another drive, on Windows
        return filename
    return filename if rel.startswith(os.pardir) else rel


def first_user_site(sites: Iterable[Site]) -> Site | None:
    """Return the first user-code site of `sites` (innermost first), else the first one."""
    first = None
    for site in sites:
        if first is None:
            first = site
        if is_user_file(site.filename):
            return site
    return first


def coroutine_origin(coro: object) -> Site | None:
    """Where a coroutine was created, in user code if the origin reaches it."""
    origin = getattr(coro, "cr_origin", None)
    if not origin:
        return None
    return first_user_site(Site(f, line, name) for f, line, name in origin)


def coroutine_definition(coro: object) -> Site | None:
    """Where a coroutine's function is defined."""
    code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
    if code is None:
        return None
    return Site(
        code.co_filename,
        code.co_firstlineno,
        code.co_qualname if hasattr(code, "co_qualname") else code.co_name,
    )


def await_chain(awaitable: object) -> Iterator[Site]:
    """Yield where `awaitable` (a task or coroutine) is suspended, outermost first.

    Follows coroutines, async generators and awaited tasks down to the
    innermost await.
    """
    seen: set[int] = set()
    current: Any = awaitable
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, asyncio.Task):
            current = current.get_coro()
            continue
        frame = (
            getattr(current, "cr_frame", None)
            or getattr(current, "ag_frame", None)
            or getattr(current, "gi_frame", None)
        )
        if frame is not None:
            yield Site(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)
        current = (
            getattr(current, "cr_await", None)
            or getattr(current, "ag_await", None)
            or getattr(current, "gi_yieldfrom", None)
        )


def frame_sites(frame: types.FrameType | None) -> list[Site]:
    """Return a thread's frames, innermost first."""
    sites = []
    while frame is not None:
        sites.append(Site(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back
    return sites


def format_sites(sites: Iterable[Site], indent: str = "  ") -> str:
    """Format sites (outermost first) as traceback lines, collapsing library frames.

    Library frames before the first user frame (pytest's, asyncio's) are left out.
    """
    lines: list[str] = []
    hidden = 0
    last = None
    for site in sites:
        last = site
        if not is_user_file(site.filename):
            hidden += 1
            continue
        if hidden and lines:
            lines.append(f"{indent}... ({hidden} frame{'s' if hidden > 1 else ''} in libraries)")
        hidden = 0
        lines.extend(f"{indent}{line}" for line in site.describe().splitlines())
    if hidden and not lines:
        if last is not None:  # no user code at all: show the innermost frame
            return "\n".join(f"{indent}{line}" for line in last.describe().splitlines())
        return f"{indent}({hidden} frame{'s' if hidden > 1 else ''}, all in libraries)"
    if hidden:
        lines.append(f"{indent}... ({hidden} frame{'s' if hidden > 1 else ''} in libraries)")
    return "\n".join(lines)


def is_own_task(task: asyncio.Task[Any]) -> bool:
    """Whether a task is awaitest's own (an async-generator fixture between setup and teardown)."""
    code = getattr(task.get_coro(), "cr_code", None)
    if code is None:
        return False
    return bool(os.path.normcase(os.path.realpath(code.co_filename)).startswith(_OWN_DIR))


def task_name(task: asyncio.Future[Any]) -> str:
    """'Task-3 (coroutine worker)': a task's name and what it runs."""
    if not isinstance(task, asyncio.Task):
        return repr(task)
    coro = task.get_coro()
    qualname = getattr(coro, "__qualname__", None) or type(coro).__name__
    return f"{task.get_name()!r} (coroutine {qualname})"


def task_created_at(task: asyncio.Task[Any]) -> Site | None:
    """Where a task was created: its coroutine's origin, or asyncio's debug record."""
    site = coroutine_origin(task.get_coro())
    if site is not None:
        return site
    return debug_created_at(task)


def debug_created_at(obj: object) -> Site | None:
    """Where asyncio's debug mode recorded `obj` (a task, future, transport) being created."""
    source = getattr(obj, "_source_traceback", None)
    if not source:
        return None
    return first_user_site(Site(f.filename, f.lineno or 0, f.name) for f in reversed(source))


def describe_task(task: asyncio.Task[Any]) -> str:
    """A task's name, where it was created and the await chain it is suspended in."""
    created = task_created_at(task)
    where = f", created at {created}" if created is not None else ""
    chain = list(await_chain(task))
    text = f"task {task_name(task)}{where}"
    if chain:
        text += ", waiting at:\n" + format_sites(chain, indent="    ")
    return text


def set_origin_depth(depth: int) -> int:
    """Set coroutine origin tracking to at least `depth`; return the previous depth."""
    previous = sys.get_coroutine_origin_tracking_depth()
    if depth > previous:
        sys.set_coroutine_origin_tracking_depth(depth)
    return previous
