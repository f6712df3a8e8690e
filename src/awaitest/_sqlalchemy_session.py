"""A session whose every change, committed or not, is rolled back: awaitest.sqlalchemy's core.

`open_rollback_session` follows SQLAlchemy's recipe "Joining a Session into an
External Transaction": a connection begins an outer transaction, an
`AsyncSession` joins it with `join_transaction_mode="create_savepoint"` (so
the code under test may `commit()` and `rollback()` as it likes: those end
savepoints), and the outer transaction is rolled back at the end.

On SQLite, Python's sqlite3 driver (under aiosqlite) emits no BEGIN for the
outer transaction and lets a SAVEPOINT commit on release; SQLAlchemy's
documented workaround ("Serializable isolation / Savepoints / Transactional
DDL") is applied to the one connection the session uses, for its lifetime.
Engines are made elsewhere (`_sqlalchemy_engine`); nothing here imports pytest.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession


def _nothing(connection: Connection) -> None:
    """Undo nothing: the connection was left as it was."""


def begin_outer_transaction(connection: Connection) -> Callable[[Connection], None]:
    """Begin the outer transaction, really, on every database.

    sqlite3's legacy transaction control (the default through Python 3.15)
    sends BEGIN only before INSERT/UPDATE/DELETE, so `Connection.begin()`
    alone opens nothing and the session's first SAVEPOINT would start, and
    its RELEASE commit, a transaction of its own. If the driver is not in a
    transaction after `begin()`, its own BEGIN is turned off
    (`isolation_level = None`) and SQLAlchemy's is sent. An engine that
    already begins transactions (the same recipe as engine events, or
    `connect_args={"autocommit": False}` on Python 3.12+) is left alone.

    Args:
        connection: The sync face of the session's connection (run through
            `AsyncConnection.run_sync`).

    Returns:
        What restores the connection's own setting, to call after the
        rollback, before the connection returns to the pool.

    """
    connection.begin()
    if connection.dialect.name != "sqlite":
        return _nothing
    pooled = connection.connection
    if pooled.driver_connection is None or pooled.driver_connection.in_transaction:
        return _nothing
    dbapi_connection: Any = pooled.dbapi_connection
    previous = dbapi_connection.isolation_level
    dbapi_connection.isolation_level = None
    connection.exec_driver_sql("BEGIN")

    def restore(connection: Connection) -> None:
        dbapi_connection.isolation_level = previous

    return restore


@contextlib.asynccontextmanager
async def open_rollback_session(engine: AsyncEngine, **options: Any) -> AsyncIterator[AsyncSession]:
    """Open an `AsyncSession` whose changes are all rolled back at exit, even committed ones.

    The session runs in one transaction on one connection of `engine`. What
    the code under test commits is visible to that session (and to code it is
    handed to, such as a web app's database dependency) until exit, when the
    outer transaction is rolled back: the database is left as it was found.
    Other connections of the engine do not see the changes.

    Args:
        engine: The engine to take a connection from.
        **options: Passed to `AsyncSession` (e.g. `autoflush=False`). Unlike
            SQLAlchemy's default, `expire_on_commit` is False unless given:
            an async session cannot reload expired attributes implicitly.

    Yields:
        The session.

    """
    options.setdefault("expire_on_commit", False)
    async with engine.connect() as connection:
        restore = await connection.run_sync(begin_outer_transaction)
        try:
            session = AsyncSession(
                bind=connection, join_transaction_mode="create_savepoint", **options
            )
            try:
                yield session
            finally:
                await session.close()
        finally:
            await connection.rollback()
            await connection.run_sync(restore)
