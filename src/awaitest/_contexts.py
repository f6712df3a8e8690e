"""Context variables across fixtures and tests.

Each async fixture runs in its own task, with a copy of the caller's context.
What it sets there must still reach the test and the fixtures set up after
it, so after setup the fixture's changes are applied to the caller's context
(`ContextPatch`) and undone when the fixture tears down. The test itself runs
in a copy, so nothing it sets leaks out. Nothing here imports pytest.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Final

_MISSING: Final = object()


class ContextPatch:
    """The context-variable values one fixture set, applied to the current context.

    Args:
        snapshot: The fixture task's context, taken after its setup.
    """

    __slots__ = ("_applied",)

    def __init__(self, snapshot: contextvars.Context) -> None:
        current = contextvars.copy_context()
        applied: list[tuple[contextvars.ContextVar[Any], contextvars.Token[Any], object]] = []
        for var, value in snapshot.items():
            if current.get(var, _MISSING) is not value:
                applied.append((var, var.set(value), value))
        self._applied = applied

    def undo(self) -> None:
        """Restore the values the fixture replaced, unless someone changed them since."""
        for var, token, value in reversed(self._applied):
            if var.get(_MISSING) is value:
                # A ValueError means it was set in another context: nothing of ours to restore.
                with contextlib.suppress(ValueError):
                    var.reset(token)
        self._applied = []
