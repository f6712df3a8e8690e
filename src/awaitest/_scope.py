"""Loop scopes: which collection node owns an event loop.

A loop scope names the widest node a loop lives for, exactly like a fixture
scope. This module only knows the names and their order; it imports nothing
from pytest.
"""

from __future__ import annotations

from typing import Final, TypeGuard

#: Loop scopes from narrowest to widest, as pytest orders fixture scopes.
LOOP_SCOPES: Final = ("function", "class", "module", "package", "session")

_RANK: Final = {name: rank for rank, name in enumerate(LOOP_SCOPES)}


def rank(scope: str) -> int:
    """Return the width of `scope`: 0 for "function" up to 4 for "session"."""
    return _RANK[scope]


def is_scope(value: object) -> TypeGuard[str]:
    """Return whether `value` is the name of a loop scope."""
    return isinstance(value, str) and value in _RANK


def wider(a: str, b: str) -> str:
    """Return the wider of two loop scopes."""
    return a if _RANK[a] >= _RANK[b] else b
