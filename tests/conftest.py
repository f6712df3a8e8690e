"""Shared helpers for awaitest's own tests.

Every behaviour is tested black-box: a test writes files with `pytester`,
runs pytest on them with awaitest loaded and other async plugins off, and
checks outcomes and the text users see.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest

# pytester's in-process runs drop the modules an inner run imported; compiled ones (SQLAlchemy's
# Cython parts, asyncpg) break when imported a second time, so load them once, up front.
for _name in ("sqlalchemy", "sqlalchemy.ext.asyncio", "aiosqlite", "asyncpg"):
    importlib.import_module(_name)

#: Arguments every inner run gets: awaitest on, pytest-asyncio off (if present), and
#: Hypothesis's pytest plugin off: pytester re-imports it for every in-process run, which
#: costs about a second (Hypothesis itself works without it).
BASE_ARGS = (
    "-p",
    "awaitest",
    "-p",
    "no:asyncio",
    "-p",
    "no:cacheprovider",
    "-p",
    "no:hypothesispytest",
)

Run = Callable[..., pytest.RunResult]


@pytest.fixture
def run(pytester: pytest.Pytester) -> Run:
    """Run pytest in-process on the pytester directory with awaitest loaded."""

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest(*BASE_ARGS, *args)

    return run


@pytest.fixture
def run_subprocess(pytester: pytest.Pytester) -> Run:
    """Run pytest in a subprocess (for anything process-wide or that might hang)."""

    def run(*args: str, timeout: float = 120) -> pytest.RunResult:
        return pytester.runpytest_subprocess(*BASE_ARGS, *args, timeout=timeout)

    return run
