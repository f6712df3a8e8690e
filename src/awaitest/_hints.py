"""Explaining "attached to a different loop" errors.

When a test fails because it used an object bound to another event loop,
asyncio's message names neither the object's origin nor the fix. Given the
test and the loops its async fixtures were set up on, `loop_mismatch_hint`
says which fixture made the object, which loop each runs on, and which
setting puts them on one loop.
"""

from __future__ import annotations

import re
from typing import Final

import pytest

from . import _compat
from ._runner import LoopRunner
from ._session import State

_MISMATCH: Final = re.compile(
    r"attached to a different loop|bound to a different event loop"
    r"|belongs to a different loop|Event loop is closed"
)


def is_loop_mismatch(exc: BaseException) -> bool:
    """Whether an exception is asyncio complaining about a foreign or closed loop."""
    return isinstance(exc, (RuntimeError, ValueError)) and bool(_MISMATCH.search(str(exc)))


def loop_mismatch_hint(state: State, item: pytest.Item, test_runner: LoopRunner) -> str:
    """Say which of the test's fixtures run on another loop, and how to fix it."""
    others: list[str] = []
    for fixturedef in _compat.closure_fixturedefs(item):
        for (fd, _node), runner in state.fixture_runners.items():
            if fd is fixturedef and runner is not test_runner:
                others.append(
                    f"fixture {fixturedef.argname!r} ({fixturedef.scope} scope) was set up "
                    f"on {runner.label}"
                )
    lines = [
        f"{item.nodeid}: the test used an object bound to another event loop.",
        f"  The test runs on {test_runner.label}.",
    ]
    if others:
        lines += [f"  {line}." for line in others]
        lines.append(
            "  Fix: drop the explicit loop_scope (marker, awaitest.fixture or "
            "awaitest_default_loop_scope) so awaitest runs them on one loop, or give the "
            "test the fixtures' loop with @pytest.mark.awaitest(loop_scope='<their scope>')."
        )
    else:
        lines.append(
            "  None of its async fixtures runs on another loop: the object was probably "
            "created at import time or in a sync fixture with another loop. Create it inside "
            "an async fixture instead."
        )
    return "\n".join(lines)
