"""Async SQLAlchemy for tests: one engine per session, one session per test, rolled back after it.

Load it with `pytest_plugins = ["awaitest.sqlalchemy"]` in the rootdir's
`conftest.py` (or `-p awaitest.sqlalchemy`); it needs `awaitest[sqlalchemy]`.
It adds the fixtures `db_engine` (session scope: an `AsyncEngine` with the
tables of your metadata created) and `db_session` (per test: an
`AsyncSession` whose changes, committed or not, are rolled back after the
test), the settings that configure them, and the same two things without
fixtures: `open_engine` and `open_rollback_session`. The work is done in
`_sqlalchemy_engine` and `_sqlalchemy_session`; this module is the public
face and the pytest glue. Importing `awaitest` never imports it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import NoReturn

import pytest

try:
    import sqlalchemy as _sqlalchemy  # noqa: F401  (a clear message when the extra is missing)
except ImportError as _error:  # pragma: no cover - exercised in a subprocess
    _msg = (
        "awaitest.sqlalchemy needs SQLAlchemy 2 with its asyncio extension, which is not "
        f"installed ({_error}). Install the extra: pip install 'awaitest[sqlalchemy]'."
    )
    raise ImportError(_msg) from None

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ._errors import ConfigError
from ._fixtures import fixture
from ._sqlalchemy_engine import (
    ENV_VAR,
    METADATA_INI,
    URL_INI,
    DatabaseUnavailableError,
    as_metadata,
    configured_url,
    load_metadata,
    open_engine,
)
from ._sqlalchemy_session import open_rollback_session

__all__ = ["DatabaseUnavailableError", "open_engine", "open_rollback_session"]

_ORIGIN = pytest.StashKey[tuple[str, str]]()

_NO_METADATA = (
    f"fixture 'db_engine': awaitest does not know which tables to create. Name your models' "
    f"metadata in the ini key {METADATA_INI} (e.g. '{METADATA_INI} = myapp.models:Base'), or "
    f"override the fixture {METADATA_INI} to return it (return None to create no tables)."
)


def _fail(msg: str) -> NoReturn:
    """Fail the setup with `msg` alone: no traceback, no exception chain."""
    __tracebackhide__ = True
    raise pytest.fail.Exception(msg, pytrace=False) from None


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ini keys of awaitest.sqlalchemy."""
    parser.addini(
        URL_INI,
        f"database URL of db_engine, with an async driver (the environment variable {ENV_VAR} "
        "wins over it); default: a temporary SQLite database",
        default="",
    )
    parser.addini(
        METADATA_INI,
        "the tables db_engine creates: package.module:attribute naming a declarative base or "
        "a sqlalchemy.MetaData",
        default="",
    )


@pytest.fixture(scope="session")
def awaitest_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """Return the URL `db_engine` connects to.

    The environment variable `AWAITEST_DATABASE_URL` if set, else the ini key
    `awaitest_database_url`, else a new SQLite database (aiosqlite) in a
    temporary directory of the session. Override this fixture to choose the
    URL in code.
    """
    found = configured_url(os.environ, request.config.getini(URL_INI))
    if found is None:
        path = tmp_path_factory.mktemp("awaitest-database") / "test.sqlite3"
        found = f"sqlite+aiosqlite:///{path.as_posix()}", "the default SQLite database"
    request.config.stash[_ORIGIN] = found
    return found[0]


@pytest.fixture(scope="session")
def awaitest_database_metadata(request: pytest.FixtureRequest) -> MetaData | None:
    """Return the metadata whose tables `db_engine` creates.

    Read from the ini key `awaitest_database_metadata` (`package.module:Base`).
    Override this fixture to return your declarative base or `MetaData` in
    code, or None to create no tables.
    """
    spec = request.config.getini(METADATA_INI).strip()
    if not spec:
        _fail(_NO_METADATA)
    try:
        return load_metadata(spec, f"the ini key {METADATA_INI}")
    except ConfigError as error:
        _fail(str(error))


@fixture(scope="session")
async def db_engine(
    request: pytest.FixtureRequest,
    awaitest_database_url: str,
    awaitest_database_metadata: object,
) -> AsyncIterator[AsyncEngine]:
    """Yield the session's `AsyncEngine`, connected once and with the metadata's tables created.

    Missing tables are created at the start; no table is ever dropped. The
    engine is disposed at the end of the session.
    """
    recorded = request.config.stash.get(_ORIGIN, None)
    origin = (
        recorded[1]
        if recorded is not None and recorded[0] == awaitest_database_url
        else f"the fixture {URL_INI}"
    )
    async with contextlib.AsyncExitStack() as stack:
        try:
            metadata = as_metadata(awaitest_database_metadata, f"the fixture {METADATA_INI}")
            engine = await stack.enter_async_context(
                open_engine(awaitest_database_url, metadata=metadata, origin=origin)
            )
        except (ConfigError, DatabaseUnavailableError) as error:
            _fail(str(error))
        yield engine


@fixture
async def db_session(db_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """Yield an `AsyncSession` whose changes are rolled back after the test, even committed ones.

    Hand the same session to the code under test (e.g. a FastAPI `get_db`
    dependency override) and its commits are undone too.
    """
    async with open_rollback_session(db_engine) as session:
        yield session
