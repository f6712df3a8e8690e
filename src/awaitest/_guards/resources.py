"""Guard 4: transports and async generators left open on a loop.

Python itself reports sockets, transports and event loops freed while open
with a `ResourceWarning`; the plugin makes those visible during tests. This
module adds what asyncio knows when a test ends: the transports still open
on its loop (with where they were created, in asyncio debug mode) and the
async generators started and never finished.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .. import _stacks

_FIX = (
    "Close what the test opens (writer.close() and 'await writer.wait_closed()', "
    "'async with' for clients and servers, 'await agen.aclose()'), in the test or in the "
    "teardown of the fixture that opened it."
)


def open_resources(loop: asyncio.AbstractEventLoop) -> set[Any]:
    """The loop's transports not closing and async generators not finished."""
    found: set[Any] = set()
    transports = getattr(loop, "_transports", None)
    if transports:
        found.update(t for t in list(transports.values()) if not t.is_closing())
    asyncgens = getattr(loop, "_asyncgens", None)
    if asyncgens:
        found.update(agen for agen in list(asyncgens) if agen.ag_frame is not None)
    return found


def _describe(resource: Any) -> str:
    if hasattr(resource, "ag_frame"):
        site = _stacks.Site(
            resource.ag_frame.f_code.co_filename,
            resource.ag_frame.f_lineno,
            resource.ag_code.co_name,
        )
        return f"async generator {resource.__qualname__!r}, suspended at {site}"
    created = _stacks.debug_created_at(resource)
    if created is not None:
        return f"{resource!r}, created at {created}"
    return repr(resource)


def describe_unclosed(resources: set[Any]) -> str:
    """Return the message for resources a test left open."""
    lines = ["left open when it ended:"]
    lines.extend(f"  {_describe(r)}" for r in sorted(resources, key=repr))
    lines.append(_FIX)
    return "\n".join(lines)


def close(resources: set[Any]) -> None:
    """Abort transports a test left open (its async generators close with the loop)."""
    for resource in resources:
        abort = getattr(resource, "abort", None)
        if abort is not None:
            abort()
