"""From a database URL to a ready async engine, for awaitest.sqlalchemy.

`open_engine` turns a URL into an `AsyncEngine`, explaining a URL that is not
one, a driver that is not async or not installed, and a database that cannot
be reached (with the password hidden); it creates the tables of the user's
metadata and disposes the engine at exit. `configured_url` picks the URL from
the environment and the ini file, `load_metadata` resolves
`module:attribute`. The per-test rollback session is in `_sqlalchemy_session`;
nothing here imports pytest.
"""

from __future__ import annotations

import asyncio
import contextlib
import pkgutil
import re
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, exc, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ._errors import AwaitestError, ConfigError

ENV_VAR = "AWAITEST_DATABASE_URL"
URL_INI = "awaitest_database_url"
METADATA_INI = "awaitest_database_metadata"

#: Where the URL can be set, as the fix in messages says it.
HOW_TO_SET_URL = (
    f"the environment variable {ENV_VAR}, the ini key {URL_INI}, or a fixture {URL_INI} "
    "of your own (with none of them, tests use a temporary SQLite database)"
)

#: The async driver to suggest per backend (SQLAlchemy's dialect names).
_ASYNC_DRIVERS = {
    "postgresql": "asyncpg",
    "sqlite": "aiosqlite",
    "mysql": "aiomysql",
    "mariadb": "aiomysql",
}

#: Any PostgreSQL advisory-lock key will do, as long as it is the same for every process:
#: xdist workers sharing one database create its tables one after the other.
SCHEMA_LOCK_KEY = 0x61776169746573  # "awaites"

_PASSWORD = re.compile(r"(?P<user>//[^/:@]*):[^/@]*@")


class DatabaseUnavailableError(AwaitestError, ConnectionError):
    """The database of the URL awaitest was given cannot be reached."""

    __module__ = "awaitest.sqlalchemy"


def hide_password(url: str | URL) -> str:
    """Return the URL as text with its password replaced by `***`.

    Args:
        url: A URL, parsed or not (text that is not a URL is masked too).

    Returns:
        The URL, safe to show in a message.

    """
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return _PASSWORD.sub(r"\g<user>:***@", url)


def configured_url(environ: Mapping[str, str], ini_value: str) -> tuple[str, str] | None:
    """Return the configured URL and where it was set, or None when nothing sets one.

    The environment variable wins over the ini key, so CI can point a suite at
    another database without editing its configuration.

    Args:
        environ: The environment (`os.environ`).
        ini_value: The value of the ini key `awaitest_database_url` ("" when unset).

    Returns:
        `(url, origin)`, where origin names the setting for messages, or None.

    """
    if environ.get(ENV_VAR, "").strip():
        return environ[ENV_VAR].strip(), f"the environment variable {ENV_VAR}"
    if ini_value.strip():
        return ini_value.strip(), f"the ini key {URL_INI}"
    return None


def _suggested(url: URL) -> str:
    backend = url.get_backend_name()
    driver = _ASYNC_DRIVERS.get(backend)
    if driver is None:
        return f"a URL naming an async driver for {backend} ('{backend}+<driver>://...')"
    return f"{hide_password(url.set(drivername=f'{backend}+{driver}'))!r}"


def create_engine(url: str | URL, origin: str, **options: Any) -> AsyncEngine:
    """Create an async engine, explaining a URL SQLAlchemy cannot use for one.

    Args:
        url: The database URL.
        origin: The setting the URL comes from, for messages.
        **options: Passed to `create_async_engine`.

    Returns:
        The engine (not yet connected).

    Raises:
        ConfigError: The URL is not a URL, or names an unknown dialect, a
            driver that is not installed, or one that is not async.

    """
    __tracebackhide__ = True
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        msg = (
            f"{origin}: {hide_password(url)!r} is not a database URL. Write it as "
            "'dialect+driver://user:password@host:port/database', e.g. "
            "'postgresql+asyncpg://user:password@localhost:5432/app_test' or "
            "'sqlite+aiosqlite:///path/to/test.db'."
        )
        raise ConfigError(msg) from None
    shown = hide_password(parsed)
    try:
        return create_async_engine(parsed, **options)
    except exc.NoSuchModuleError:
        backend = parsed.get_backend_name()
        known = "postgresql" if backend == "postgres" else backend
        msg = (
            f"{origin}: SQLAlchemy has no dialect {parsed.drivername!r} (in {shown!r}). "
            f"Use {_suggested(parsed.set(drivername=known))}."
        )
        raise ConfigError(msg) from None
    except exc.InvalidRequestError as error:
        if "async" not in str(error):
            raise
        msg = (
            f"{origin}: {shown!r} uses the driver {parsed.get_dialect().driver!r}, which is not "
            f"async; awaitest's engine needs an async driver. Use {_suggested(parsed)}."
        )
        raise ConfigError(msg) from None
    except ImportError as error:
        msg = (
            f"{origin}: {shown!r} needs the driver module {error.name!r}, which is not "
            f"installed. Use {_suggested(parsed)} (awaitest[sqlalchemy] installs asyncpg and "
            f"aiosqlite), or install {error.name!r}."
        )
        raise ConfigError(msg) from None


def as_metadata(value: object, origin: str) -> MetaData | None:
    """Return the MetaData a user named: a MetaData, or a class or object with `.metadata`.

    Args:
        value: A `MetaData`, a declarative base (or SQLModel) with `.metadata`, or None.
        origin: The setting the value comes from, for messages.

    Returns:
        The metadata, or None when `value` is None (no tables to create).

    Raises:
        ConfigError: The value is neither.

    """
    __tracebackhide__ = True
    if value is None or isinstance(value, MetaData):
        return value
    metadata = getattr(value, "metadata", None)
    if isinstance(metadata, MetaData):
        return metadata
    msg = (
        f"{origin}: {value!r} is not a sqlalchemy.MetaData and has no .metadata attribute. "
        "Name your declarative base (e.g. myapp.models:Base) or a MetaData object."
    )
    raise ConfigError(msg)


def load_metadata(spec: str, origin: str) -> MetaData:
    """Import the metadata named `package.module:attribute`.

    Args:
        spec: The name, e.g. `myapp.models:Base` or `myapp.models:Base.metadata`.
        origin: The setting the name comes from, for messages.

    Returns:
        The metadata.

    Raises:
        ConfigError: The name cannot be imported or is not metadata.

    """
    __tracebackhide__ = True
    try:
        value = pkgutil.resolve_name(spec)
    except (ImportError, AttributeError, ValueError) as error:
        msg = (
            f"{origin}: cannot import {spec!r} ({type(error).__name__}: {error}). Write it as "
            "'package.module:Base' (your declarative base, or a MetaData), with the module "
            "importable by the tests (installed, or on pytest's pythonpath setting)."
        )
        raise ConfigError(msg) from None
    metadata = as_metadata(value, origin)
    assert metadata is not None  # resolve_name never returns None for a found name
    return metadata


def _cause(error: BaseException) -> str:
    """Say what the driver reported, without SQLAlchemy's wrapper and its background link."""
    original: BaseException = error
    if isinstance(error, exc.DBAPIError) and error.orig is not None:
        original = error.orig
    # SQLAlchemy's asyncio adapters wrap the driver's exception in a generic `Error`.
    driver_error = original.__cause__ or original
    return f"{type(driver_error).__name__}: {driver_error}".strip()


def _check_sqlite_directory(url: URL) -> None:
    """Refuse a SQLite file in a missing directory before aiosqlite starts a thread for it.

    aiosqlite's worker thread outlives a failed connect and reports to the
    event loop later, which raises in that thread once the loop is closed.
    """
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or url.query.get("uri") or database.startswith("file:"):
        return
    if database in ("", ":memory:"):
        return
    directory = Path(database).parent
    if not directory.is_dir():
        msg = f"the directory {str(directory)!r} does not exist"
        raise FileNotFoundError(msg)


async def create_tables(engine: AsyncEngine, metadata: MetaData) -> None:
    """Create the metadata's missing tables (one process at a time on PostgreSQL).

    Args:
        engine: The engine.
        metadata: The tables to create; existing ones are left as they are.

    """
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY}
            )
        await connection.run_sync(metadata.create_all)


@contextlib.asynccontextmanager
async def open_engine(
    url: str | URL,
    *,
    metadata: MetaData | None = None,
    origin: str = "the database URL",
    **options: Any,
) -> AsyncIterator[AsyncEngine]:
    """Open an async engine on a database that is known to answer, with its tables created.

    Connects once before returning, so a wrong or stopped database fails here
    with a message saying so, not in the middle of a test. Creates the
    metadata's tables that do not exist yet (`MetaData.create_all`) and never
    drops a table. Disposes the engine at exit.

    Args:
        url: The database URL; its driver must be async (`postgresql+asyncpg://`,
            `sqlite+aiosqlite:///`).
        metadata: The tables to create, or None for none.
        origin: The setting the URL comes from, named in messages.
        **options: Passed to `sqlalchemy.ext.asyncio.create_async_engine`.

    Yields:
        The engine.

    Raises:
        ConfigError: The URL cannot give an async engine (see `create_engine`).
        DatabaseUnavailableError: The database does not answer.

    """
    __tracebackhide__ = True
    # SQLAlchemy imports the dialect and the driver here: slow enough to stall the loop.
    engine = await asyncio.to_thread(create_engine, url, origin, **options)
    try:
        try:
            _check_sqlite_directory(engine.url)
            async with engine.connect():
                pass
        except Exception as error:
            if engine.dialect.name == "sqlite":
                fix = "Create the directory of the database file, writable"
            else:
                fix = "Start the server and create the database and user the URL names"
            msg = (
                f"{origin}: cannot connect to the database {hide_password(engine.url)!r} "
                f"({_cause(error)}). {fix}, or point awaitest at another database: "
                f"{HOW_TO_SET_URL}."
            )
            raise DatabaseUnavailableError(msg) from error
        if metadata is not None:
            await create_tables(engine, metadata)
        yield engine
    finally:
        await engine.dispose()
