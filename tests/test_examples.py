"""The main job: `python -m pytest examples` passes, on SQLite and on PostgreSQL.

The example suite (examples/README.md) runs in a subprocess from the
repository root, with the repository's settings, once with no database
configured (the shop's tests get a temporary SQLite database) and once with
AWAITEST_DATABASE_URL naming a new database on the throwaway PostgreSQL
server of `tests/postgres.py`. Each run must pass every test, with no skip
and no warning, on awaitest; and it must have used that database (the
shop's tables exist) and left it as it found it (every table empty: each
test's commits were rolled back).
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, table

import awaitest
import postgres
from awaitest.sqlalchemy import open_engine

ROOT = Path(__file__).resolve().parent.parent

#: The shop's tests (examples/shop) and the key-value store's (examples/kvstore).
SHOP_TESTS = 38
KVSTORE_TESTS = 26
#: examples/kvstore/test_events.py (3 tests) needs asyncio.TaskGroup, new in Python 3.11: on
#: Python 3.10 it skips itself, which pytest counts as one skip.
NEEDS_311 = 3
#: The shop's tables, created by awaitest.sqlalchemy in the database of the run.
SHOP_TABLES = ("orders", "products", "users")


@dataclasses.dataclass(frozen=True)
class MainJob:
    """One run of the example suite, and the database it was given."""

    result: subprocess.CompletedProcess[str]
    database_url: str

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[postgres.Server]:
    """Start a throwaway PostgreSQL server for this module."""
    with postgres.running_server() as server:
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def main_job(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> MainJob:
    """Run the README's main job, `python -m pytest examples`, from the repository root."""
    # Nothing from the outer run: its worker id, its current test, its database.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "AWAITEST_", "SHOP_"))
    }
    basetemp = tmp_path_factory.mktemp(f"examples-{request.param}") / "basetemp"
    if request.param == "postgresql":
        server: postgres.Server = request.getfixturevalue("postgres_server")
        url = env["AWAITEST_DATABASE_URL"] = server.create_database()
    else:
        # awaitest.sqlalchemy's default database, in the run's temporary directory.
        url = f"sqlite+aiosqlite:///{basetemp / 'awaitest-database0' / 'test.sqlite3'}"
    # --basetemp: where the SQLite database will be, to look at it after the run.
    command = ["-m", "pytest", "examples", "-p", "no:cacheprovider", f"--basetemp={basetemp}"]
    result = subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return MainJob(result, url)


def test_every_example_test_passes(main_job: MainJob) -> None:
    """Every example test passes, none is skipped or warns, and the run exits 0."""
    output = main_job.output.strip()
    summary = output.splitlines()[-1] if output else ""
    assert main_job.result.returncode == 0, main_job.output
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary)}
    if sys.version_info >= (3, 11):
        assert counts == {"passed": SHOP_TESTS + KVSTORE_TESTS}, summary
    else:  # pragma: no cover - the TaskGroup module skips itself
        expected = {"passed": SHOP_TESTS + KVSTORE_TESTS - NEEDS_311, "skipped": 1}
        assert counts == expected, summary


def test_the_example_suite_runs_on_awaitest(main_job: MainJob) -> None:
    """The example suite runs under awaitest in auto mode, with the repository's settings."""
    lines = main_job.result.stdout.splitlines()
    header = f"awaitest {awaitest.__version__}: mode=auto, loop=asyncio, loop_scope=auto, "
    header += "guards=default, timeout=none"
    assert header in lines
    assert "configfile: pyproject.toml" in lines


async def test_the_database_was_used_and_left_empty(main_job: MainJob) -> None:
    """The run created the shop's tables in its database, and rolled back every test's rows."""
    async with open_engine(main_job.database_url) as engine, engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        assert set(SHOP_TABLES) <= set(names), f"no shop tables in {main_job.database_url}"
        rows = {
            name: await connection.scalar(select(func.count()).select_from(table(name)))
            for name in SHOP_TABLES
        }
    assert rows == dict.fromkeys(SHOP_TABLES, 0)
