"""awaitest.sqlalchemy: an async engine per session, a session per test rolled back after it.

Black-box: inner suites load the plugin with `pytest_plugins`, commit, nest
savepoints and share the engine, on SQLite (the default) and on a real
PostgreSQL server that `tests/postgres.py` starts for this run. Every way of
setting the URL and the metadata, and every mistake, is pinned by its
message. `open_engine` and `open_rollback_session` are tested directly too.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import inspect
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, configure_mappers, mapped_column

import postgres
from awaitest import ConfigError
from awaitest._sqlalchemy_engine import SCHEMA_LOCK_KEY, create_tables
from awaitest.sqlalchemy import DatabaseUnavailableError, open_engine, open_rollback_session

Run = Callable[..., pytest.RunResult]

# In-process inner runs drop the modules they imported; drivers imported here stay loaded
# (asyncpg is a compiled extension: importing it again per run is slow and unsafe).
for _module in ("aiosqlite", "asyncpg", "sqlalchemy.dialects.postgresql.asyncpg"):
    importlib.import_module(_module)

ENV_VAR = "AWAITEST_DATABASE_URL"

PLUGIN = 'pytest_plugins = ["awaitest.sqlalchemy"]\n'

MODELS = """
from sqlalchemy.orm import DeclarativeBase, Mapped, configure_mappers, mapped_column


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    item: Mapped[str]
"""

# What inner tests import to count rows.
COUNT = """
from sqlalchemy import func, select

from models import Order


async def count(session_or_connection):
    return await session_or_connection.scalar(select(func.count()).select_from(Order))
"""


def project(
    pytester: pytest.Pytester, ini: str = "awaitest_database_metadata = models:Base"
) -> None:
    """Write an inner project: the plugin loaded by conftest, a model, and an ini file."""
    pytester.makeconftest(PLUGIN)
    pytester.makepyfile(models=MODELS, counting=COUNT)
    pytester.makeini(f"[pytest]\n{ini}\n")


@pytest.fixture(autouse=True)
def _no_url_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own AWAITEST_DATABASE_URL must not reach the inner runs."""
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.Server]:
    """A PostgreSQL server for this run (this xdist worker), installed if need be."""
    with postgres.running_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: postgres.Server) -> str:
    """The URL of a new, empty database on the run's PostgreSQL server."""
    return postgres_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the inner suite on the default SQLite database, or on a new PostgreSQL database."""
    if request.param == "postgresql":
        monkeypatch.setenv(ENV_VAR, request.getfixturevalue("postgres_url"))
    return str(request.param)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- isolation --------------------------------------------------------------------------------


def test_committed_changes_are_rolled_back_after_each_test(
    pytester: pytest.Pytester, run: Run, backend: str
) -> None:
    """Code that commits still leaves nothing behind; other connections never see its rows."""
    project(pytester)
    pytester.makepyfile(
        test_orders="""
        from awaitest.sqlalchemy import open_engine
        from counting import count
        from models import Order


        async def test_first(db_session, awaitest_database_url):
            order = Order(item="apple")
            db_session.add(order)
            await db_session.commit()
            assert order.item == "apple"  # not expired by the commit: no lazy load needed
            assert await count(db_session) == 1
            async with open_engine(awaitest_database_url) as elsewhere:
                async with elsewhere.connect() as other:
                    assert await count(other) == 0


        async def test_second(db_session):
            db_session.add(Order(item="pear"))
            await db_session.commit()
            assert await count(db_session) == 1


        async def test_nothing_is_left(db_engine):
            async with db_engine.connect() as connection:
                assert await count(connection) == 0
        """
    )
    result = run("--strict-config")
    result.assert_outcomes(passed=3)


def test_rollback_and_nested_savepoints_work_inside_the_test(
    pytester: pytest.Pytester, run: Run, backend: str
) -> None:
    """rollback() undoes back to the last commit; a failed begin_nested() block only itself."""
    project(pytester)
    pytester.makepyfile(
        test_savepoints="""
        import pytest
        from sqlalchemy import select

        from models import Order


        async def test_savepoints(db_session):
            db_session.add(Order(item="kept"))
            await db_session.commit()
            db_session.add(Order(item="rolled back"))
            await db_session.flush()
            await db_session.rollback()
            async with db_session.begin_nested():
                db_session.add(Order(item="nested"))
            with pytest.raises(ZeroDivisionError):
                async with db_session.begin_nested():
                    db_session.add(Order(item="failed"))
                    await db_session.flush()
                    1 / 0
            items = await db_session.scalars(select(Order.item).order_by(Order.id))
            assert list(items) == ["kept", "nested"]
        """
    )
    run().assert_outcomes(passed=1)


def test_the_app_under_test_gets_the_same_session(
    pytester: pytest.Pytester, run: Run, backend: str
) -> None:
    """A FastAPI app given db_session through dependency_overrides commits, and is rolled back."""
    project(pytester)
    pytester.makepyfile(
        app="""
        from fastapi import Depends, FastAPI
        from sqlalchemy import func, select

        from models import Order

        app = FastAPI()


        async def get_db():
            raise AssertionError("the test overrides this dependency")


        @app.post("/orders/{item}")
        async def create(item: str, db=Depends(get_db)):
            db.add(Order(item=item))
            await db.commit()
            return {"orders": await db.scalar(select(func.count()).select_from(Order))}
        """,
        test_app="""
        import httpx
        import pytest

        from app import app, get_db
        from counting import count


        @pytest.fixture
        async def client(db_session):
            async def override():
                return db_session

            app.dependency_overrides[get_db] = override
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield client
            app.dependency_overrides.clear()


        @pytest.mark.parametrize("item", ["apple", "pear"])
        async def test_create(client, db_session, item):
            response = await client.post(f"/orders/{item}")
            assert response.json() == {"orders": 1}
            assert await count(db_session) == 1
        """,
    )
    run().assert_outcomes(passed=2)


def test_one_engine_serves_the_whole_session(pytester: pytest.Pytester, run: Run) -> None:
    """db_engine is created once; tests in every module get it, on the loop they run on."""
    project(pytester)
    pytester.makepyfile(seen="engines = set()\nloops = set()\n")
    module = """
        import asyncio

        from seen import engines, loops


        async def test_{name}(db_engine, db_session):
            engines.add(id(db_engine))
            loops.add(id(asyncio.get_running_loop()))
            assert db_session.bind.engine is db_engine
            assert len(engines) == len(loops) == 1
        """
    pytester.makepyfile(test_one=module.format(name="one"), test_two=module.format(name="two"))
    run().assert_outcomes(passed=2)


@pytest.mark.parametrize("load", ["conftest", "command line"])
def test_sqlite_by_default_with_no_url_configured(
    pytester: pytest.Pytester, run: Run, load: str
) -> None:
    """With no URL anywhere, db_engine is a new SQLite database (aiosqlite) in a temp dir."""
    project(pytester)
    if load == "command line":
        pytester.makeconftest("")
    pytester.makepyfile(
        test_default="""
        from pathlib import Path

        from sqlalchemy import inspect


        async def test_default(db_engine):
            assert db_engine.url.drivername == "sqlite+aiosqlite"
            path = Path(db_engine.url.database)
            assert path.is_file() and path.parent.name.startswith("awaitest-database")
            async with db_engine.connect() as connection:
                tables = await connection.run_sync(
                    lambda sync: inspect(sync).get_table_names()
                )
            assert tables == ["orders"]
        """
    )
    args = ["-p", "awaitest.sqlalchemy"] if load == "command line" else []
    run("--strict-config", *args).assert_outcomes(passed=1)


def test_fixtures_run_in_strict_mode(pytester: pytest.Pytester, run: Run) -> None:
    """db_engine and db_session are awaitest fixtures: strict mode runs them too."""
    project(pytester, "awaitest_database_metadata = models:Base\nawaitest_mode = strict")
    pytester.makepyfile(
        test_strict="""
        import pytest

        from counting import count


        @pytest.mark.awaitest
        async def test_strict(db_session):
            assert await count(db_session) == 0
        """
    )
    run().assert_outcomes(passed=1)


# -- configuration ----------------------------------------------------------------------------

URL_TEST = """
from pathlib import Path


async def test_url(db_engine):
    assert Path(db_engine.url.database).name == "{name}"
    assert Path(db_engine.url.database).is_file()
"""


@pytest.mark.parametrize("where", ["environment", "ini", "pyproject", "fixture"])
def test_the_url_is_configured_by(
    pytester: pytest.Pytester, run: Run, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """The URL comes from AWAITEST_DATABASE_URL, the ini key, or an overriding fixture."""
    url = f"sqlite+aiosqlite:///{(pytester.path / 'configured.db').as_posix()}"
    project(pytester)
    if where == "environment":
        monkeypatch.setenv(ENV_VAR, url)
    elif where == "ini":
        project(
            pytester, f"awaitest_database_metadata = models:Base\nawaitest_database_url = {url}"
        )
    elif where == "pyproject":
        (pytester.path / "tox.ini").unlink()
        pytester.makepyprojecttoml(
            "[tool.pytest.ini_options]\n"
            'awaitest_database_metadata = "models:Base"\n'
            f'awaitest_database_url = "{url}"\n'
        )
    else:
        pytester.makeconftest(
            PLUGIN
            + f"""
import pytest

@pytest.fixture(scope="session")
def awaitest_database_url():
    return "{url}"
"""
        )
    pytester.makepyfile(test_url=URL_TEST.format(name="configured.db"))
    run("--strict-config").assert_outcomes(passed=1)


def test_the_environment_variable_wins_over_the_ini_key(
    pytester: pytest.Pytester, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI can point a suite elsewhere without editing its configuration."""
    ini_url = f"sqlite+aiosqlite:///{(pytester.path / 'from_ini.db').as_posix()}"
    env_url = f"sqlite+aiosqlite:///{(pytester.path / 'from_env.db').as_posix()}"
    project(
        pytester, f"awaitest_database_metadata = models:Base\nawaitest_database_url = {ini_url}"
    )
    monkeypatch.setenv(ENV_VAR, env_url)
    pytester.makepyfile(test_url=URL_TEST.format(name="from_env.db"))
    run().assert_outcomes(passed=1)


METADATA_CONFTEST = (
    PLUGIN
    + """
import pytest

import models


@pytest.fixture(scope="session")
def awaitest_database_metadata():
    return {value}
"""
)


@pytest.mark.parametrize(
    ("ini", "fixture", "tables"),
    [
        ("models:Base", None, ["orders"]),
        ("models:Base.metadata", None, ["orders"]),
        ("", "models.Base", ["orders"]),
        ("", "models.Base.metadata", ["orders"]),
        ("", "None", []),
    ],
    ids=["ini base", "ini metadata", "fixture base", "fixture metadata", "fixture None"],
)
def test_the_metadata_is_configured_by(
    pytester: pytest.Pytester, run: Run, ini: str, fixture: str | None, tables: list[str]
) -> None:
    """The ini key or an overriding fixture names a declarative base or a MetaData (or None)."""
    project(pytester, f"awaitest_database_metadata = {ini}" if ini else "")
    if fixture is not None:
        pytester.makeconftest(METADATA_CONFTEST.format(value=fixture))
    pytester.makepyfile(
        test_tables=f"""
        from sqlalchemy import inspect


        async def test_tables(db_engine):
            async with db_engine.connect() as connection:
                tables = await connection.run_sync(
                    lambda sync: inspect(sync).get_table_names()
                )
            assert tables == {tables!r}
        """
    )
    run("--strict-config").assert_outcomes(passed=1)


def test_existing_tables_are_kept(pytester: pytest.Pytester, run: Run, backend: str) -> None:
    """Tables that exist are left as they are (and their rows); nothing is ever dropped."""
    project(pytester)
    pytester.makepyfile(
        test_keep="""
        import pytest
        from sqlalchemy import text

        from counting import count


        @pytest.fixture(scope="session", autouse=True)
        async def existing(awaitest_database_url):
            from awaitest.sqlalchemy import open_engine
            async with open_engine(awaitest_database_url) as engine:
                async with engine.begin() as connection:
                    await connection.execute(
                        text("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)")
                    )
                    await connection.execute(text("INSERT INTO orders VALUES (1, 'old')"))


        async def test_kept(db_session):
            assert await count(db_session) == 1
        """
    )
    run().assert_outcomes(passed=1)


# -- mistakes ---------------------------------------------------------------------------------


def test_missing_metadata_is_explained(pytester: pytest.Pytester, run: Run) -> None:
    """Without metadata, db_engine says where to name it."""
    project(pytester, "")
    pytester.makepyfile(test_no_metadata="async def test_x(db_session): pass")
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*fixture 'db_engine': awaitest does not know which tables to create. Name your "
            "models' metadata in the ini key awaitest_database_metadata (e.g. "
            "'awaitest_database_metadata = myapp.models:Base'), or override the fixture "
            "awaitest_database_metadata to return it (return None to create no tables)."
        ]
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "models:Nope",
            "*the ini key awaitest_database_metadata: cannot import 'models:Nope' "
            "(AttributeError: module 'models' has no attribute 'Nope'). Write it as "
            "'package.module:Base' (your declarative base, or a MetaData), with the module "
            "importable by the tests (installed, or on pytest's pythonpath setting).",
        ),
        (
            "nowhere.models:Base",
            "*the ini key awaitest_database_metadata: cannot import 'nowhere.models:Base' "
            "(ModuleNotFoundError: No module named 'nowhere')*",
        ),
        (
            "models:Order.item",
            "*the ini key awaitest_database_metadata: <sqlalchemy.orm.attributes."
            "InstrumentedAttribute object at *> is not a sqlalchemy.MetaData and has no "
            ".metadata attribute. Name your declarative base (e.g. myapp.models:Base) or a "
            "MetaData object.",
        ),
    ],
    ids=["no attribute", "no module", "not metadata"],
)
def test_bad_metadata_is_explained(
    pytester: pytest.Pytester, run: Run, value: str, message: str
) -> None:
    """A name that cannot be imported, or is not metadata, is reported with the fix."""
    project(pytester, f"awaitest_database_metadata = {value}")
    pytester.makepyfile(test_bad="async def test_x(db_session): pass")
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([message])


def test_metadata_fixture_of_the_wrong_type_is_explained(
    pytester: pytest.Pytester, run: Run
) -> None:
    """An overriding metadata fixture that returns something else is named."""
    project(pytester, "")
    pytester.makeconftest(METADATA_CONFTEST.format(value="'models:Base'"))
    pytester.makepyfile(test_bad="async def test_x(db_session): pass")
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*the fixture awaitest_database_metadata: 'models:Base' is not a sqlalchemy.MetaData"
            " and has no .metadata attribute.*"
        ]
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "postgresql+asyncpg//app:secret@db/app",
            "*the environment variable AWAITEST_DATABASE_URL: "
            "'postgresql+asyncpg//app:***@db/app' is not a database URL. Write it as "
            "'dialect+driver://user:password@host:port/database', e.g. "
            "'postgresql+asyncpg://user:password@localhost:5432/app_test' or "
            "'sqlite+aiosqlite:///path/to/test.db'.",
        ),
        (
            "postgresql://app:secret@db/app",
            "*the environment variable AWAITEST_DATABASE_URL: "
            "'postgresql://app:***@db/app' * Use 'postgresql+asyncpg://app:***@db/app'*",
        ),
        (
            "sqlite:///orders.db",
            "*the environment variable AWAITEST_DATABASE_URL: 'sqlite:///orders.db' uses the "
            "driver 'pysqlite', which is not async; awaitest's engine needs an async driver. "
            "Use 'sqlite+aiosqlite:///orders.db'.",
        ),
        (
            "postgres+asyncpg://app:secret@db/app",
            "*the environment variable AWAITEST_DATABASE_URL: SQLAlchemy has no dialect "
            "'postgres+asyncpg' (in 'postgres+asyncpg://app:***@db/app'). "
            "Use 'postgresql+asyncpg://app:***@db/app'.",
        ),
        (
            "mysql+nosuchdriver://app:secret@db/app",
            "*SQLAlchemy has no dialect 'mysql+nosuchdriver' (in "
            "'mysql+nosuchdriver://app:***@db/app'). Use 'mysql+aiomysql://app:***@db/app'.",
        ),
    ],
    ids=["not a url", "default driver", "sync driver", "unknown dialect", "unknown driver"],
)
def test_unusable_url_is_explained(
    pytester: pytest.Pytester, run: Run, monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    """A URL that cannot make an async engine says what to write instead; passwords are hidden."""
    project(pytester)
    monkeypatch.setenv(ENV_VAR, url)
    pytester.makepyfile(test_bad="async def test_x(db_session): pass")
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([message])
    assert "secret@" not in result.stdout.str()


@pytest.mark.parametrize("where", ["environment", "ini", "fixture"])
def test_unreachable_database_is_explained(
    pytester: pytest.Pytester, run: Run, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """A database that does not answer fails every test using it, naming the setting once each."""
    url = f"postgresql+asyncpg://app:secret@127.0.0.1:{_closed_port()}/app"
    project(pytester)
    origin = {
        "environment": "the environment variable AWAITEST_DATABASE_URL",
        "ini": "the ini key awaitest_database_url",
        "fixture": "the fixture awaitest_database_url",
    }[where]
    if where == "environment":
        monkeypatch.setenv(ENV_VAR, url)
    elif where == "ini":
        project(
            pytester, f"awaitest_database_metadata = models:Base\nawaitest_database_url = {url}"
        )
    else:
        pytester.makeconftest(
            PLUGIN + f"import pytest\n\n@pytest.fixture(scope='session')\n"
            f"def awaitest_database_url():\n    return {url!r}\n"
        )
    pytester.makepyfile(
        test_down="async def test_a(db_session): pass\n\nasync def test_b(db_engine): pass\n"
    )
    result = run()
    result.assert_outcomes(errors=2)
    shown = url.replace("secret", "***")
    result.stdout.fnmatch_lines(
        [
            f"*{origin}: cannot connect to the database '{shown}' (ConnectionRefusedError: *). "
            "Start the server and create the database and user the URL names, or point "
            "awaitest at another database: the environment variable AWAITEST_DATABASE_URL, "
            "the ini key awaitest_database_url, or a fixture awaitest_database_url of your own "
            "(with none of them, tests use a temporary SQLite database).",
        ]
    )
    assert "secret" not in result.stdout.str()


def test_sqlite_file_that_cannot_be_opened_is_explained(
    pytester: pytest.Pytester, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SQLite file in a missing directory gets the SQLite fix, and nothing else is reported."""
    url = f"sqlite+aiosqlite:///{(pytester.path / 'missing' / 'test.db').as_posix()}"
    project(pytester)
    monkeypatch.setenv(ENV_VAR, url)
    pytester.makepyfile(test_missing="async def test_x(db_session): pass")
    result = run("-W", "error")
    result.assert_outcomes(errors=1, warnings=0)
    result.stdout.fnmatch_lines(
        [
            f"*the environment variable AWAITEST_DATABASE_URL: cannot connect to the database "
            f"'{url}' (FileNotFoundError: the directory '{pytester.path / 'missing'}' does not "
            "exist). Create the directory of the database file, writable, or point awaitest at "
            "another database: *"
        ]
    )


def test_missing_sqlalchemy_is_explained(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """Loading the plugin without the extra says which extra to install."""
    pytester.makeconftest('import sys\n\nsys.modules["sqlalchemy"] = None\n\n' + PLUGIN)
    pytester.makepyfile(test_x="def test_x(): pass")
    result = run_subprocess()
    assert result.ret != 0
    result.stderr.fnmatch_lines(
        [
            "*awaitest.sqlalchemy needs SQLAlchemy 2 with its asyncio extension, which is not "
            "installed (*). Install the extra: pip install 'awaitest[[]sqlalchemy]'."
        ]
    )


def test_importing_awaitest_does_not_import_sqlalchemy() -> None:
    """The core plugin stays light: SQLAlchemy is imported only by awaitest.sqlalchemy."""
    code = (
        "import sys, awaitest, awaitest.plugin\n"
        "print(sorted(name for name in sys.modules if 'sqlalchemy' in name))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# -- the helpers, without fixtures ------------------------------------------------------------


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    item: Mapped[str]


# Mapper configuration runs on first use otherwise: inside a test, on its event loop, where the
# blocking guard may see it (as it may see a garbage collection of earlier inner runs' models).
configure_mappers()


@pytest.fixture(autouse=True)
def _collect_garbage_off_the_loop(request: pytest.FixtureRequest) -> None:
    """Collect the inner runs' garbage before a test that runs on the loop, not during it."""
    if inspect.iscoroutinefunction(request.function):
        gc.collect()


async def _count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(Order)) or 0)


def _plain(url: str) -> AsyncEngine:
    """An engine as create_async_engine makes it: sqlite3's legacy transaction control."""
    return create_async_engine(url)


def _begin_recipe(url: str) -> AsyncEngine:
    """SQLAlchemy's documented SQLite events: the engine already emits its own BEGIN."""
    engine = create_async_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def connect(dbapi_connection: object, record: object) -> None:
        dbapi_connection.isolation_level = None  # type: ignore[attr-defined]

    @event.listens_for(engine.sync_engine, "begin")
    def begin(connection: object) -> None:
        connection.exec_driver_sql("BEGIN")  # type: ignore[attr-defined]

    return engine


def _autocommit_false(url: str) -> AsyncEngine:
    """Python 3.12+'s PEP 249 mode: sqlite3 is always in a transaction."""
    return create_async_engine(url, connect_args={"autocommit": False})


SQLITE_ENGINES = [_plain, _begin_recipe] + (
    [_autocommit_false] if sys.version_info >= (3, 12) else []
)


@pytest.fixture(params=SQLITE_ENGINES, ids=lambda make: make.__name__.strip("_"))
async def sqlite_engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncEngine]:
    """A SQLite engine the user made, with the orders table."""
    engine = request.param(f"sqlite+aiosqlite:///{tmp_path / 'own.db'}")
    await create_tables(engine, Base.metadata)
    yield engine
    await engine.dispose()


async def test_rollback_session_on_a_users_own_sqlite_engine(sqlite_engine: AsyncEngine) -> None:
    """open_rollback_session isolates on any SQLite engine, whatever its transaction control."""
    for _ in range(2):
        async with open_rollback_session(sqlite_engine) as session:
            session.add(Order(item="apple"))
            await session.commit()
            async with session.begin_nested():
                session.add(Order(item="pear"))
            assert await session.scalar(select(func.count()).select_from(Order)) == 2
    assert await _count(sqlite_engine) == 0
    # The connection went back to the pool as it came: rollback and commit still work.
    async with sqlite_engine.connect() as connection:
        await connection.execute(text("INSERT INTO orders (item) VALUES ('undone')"))
        await connection.rollback()
        await connection.execute(text("INSERT INTO orders (item) VALUES ('kept')"))
        await connection.commit()
    assert await _count(sqlite_engine) == 1


async def test_open_engine_and_rollback_session_on_postgresql(postgres_url: str) -> None:
    """The helpers work without fixtures: tables created, commits rolled back."""
    async with open_engine(postgres_url, metadata=Base.metadata) as engine:
        async with open_rollback_session(engine) as session:
            session.add(Order(item="apple"))
            await session.commit()
            assert await session.scalar(select(func.count()).select_from(Order)) == 1
        assert await _count(engine) == 0


async def test_tables_are_created_one_process_at_a_time_on_postgresql(postgres_url: str) -> None:
    """Workers (xdist) sharing a PostgreSQL database take turns at create_all: an advisory lock."""
    url = postgres_url
    waiting_for_a_lock = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )

    async def open_and_close() -> None:
        async with open_engine(url, metadata=Base.metadata):
            pass

    async with open_engine(url) as other_worker:
        opening = None
        try:
            async with other_worker.begin() as connection:
                lock = text("SELECT pg_advisory_xact_lock(:key)")
                await connection.execute(lock, {"key": SCHEMA_LOCK_KEY})
                opening = asyncio.create_task(open_and_close())
                waiting = 0
                for _ in range(200):
                    waiting = await connection.scalar(waiting_for_a_lock)
                    if waiting or opening.done():
                        break
                    await asyncio.sleep(0.05)
                assert waiting == 1, "open_engine created the tables without waiting its turn"
        finally:
            if opening is not None:
                await opening  # the other worker's transaction is over: its lock is free
        assert await _count(other_worker) == 0


async def test_open_engine_errors_are_exceptions() -> None:
    """Without pytest, the same messages arrive as ConfigError / DatabaseUnavailableError."""
    with pytest.raises(ConfigError, match=r"^the database URL: 'nope' is not a database URL"):
        async with open_engine("nope"):
            pass
    url = f"postgresql+asyncpg://app:secret@127.0.0.1:{_closed_port()}/app"
    with pytest.raises(DatabaseUnavailableError, match=r"cannot connect to the database") as info:
        async with open_engine(url, origin="APP_DB"):
            pass
    assert str(info.value).startswith(
        "APP_DB: cannot connect to the database 'postgresql+asyncpg://app:***@"
    )
    assert isinstance(info.value, ConnectionError)
