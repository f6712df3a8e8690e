"""pytest-aiohttp, a plugin built on pytest-asyncio, works with awaitest in charge.

pytest-aiohttp depends on the real pytest-asyncio, so both get installed. With
`-p no:asyncio` awaitest runs the tests, honouring the real
`pytest_asyncio.fixture`; without it, awaitest refuses with one clear message.
The packages are installed from the package index into a temporary directory
put on PYTHONPATH, so the project's own environment keeps no pytest-asyncio.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from inner import pip_install

TEST_FILE = """
import pytest
import pytest_asyncio
from aiohttp import web


async def hello(request):
    return web.Response(text="Hello")


@pytest_asyncio.fixture
async def cli(aiohttp_client):
    app = web.Application()
    app.router.add_get("/", hello)
    return await aiohttp_client(app)


async def test_hello(cli):
    resp = await cli.get("/")
    assert resp.status == 200
    assert await resp.text() == "Hello"


def test_the_real_pytest_asyncio_is_installed():
    assert not getattr(pytest_asyncio, "__awaitest_shim__", False)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding pytest-aiohttp, aiohttp and the real pytest-asyncio."""
    return pip_install(
        tmp_path_factory.mktemp("site"),
        "pytest-aiohttp>=1.1", "pytest-asyncio>=1.5",
        "--no-deps", "aiohttp", "aiohappyeyeballs", "aiosignal", "attrs", "frozenlist",
        "multidict", "propcache", "yarl", "idna",
    )  # fmt: skip


def run_pytest(site: Path, project: Path, ini: str) -> subprocess.CompletedProcess[str]:
    """Run pytest on `project` with `site` on the path."""
    (project / "pytest.ini").write_text(ini)
    (project / "test_aiohttp_app.py").write_text(TEST_FILE)
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(project)],
        capture_output=True,
        text=True,
        env=env,
        cwd=project,
        timeout=300,
        check=False,
    )


def test_awaitest_takes_over_with_no_asyncio(site: Path, tmp_path: Path) -> None:
    """With -p no:asyncio, pytest-aiohttp's fixtures and pytest_asyncio.fixture run on awaitest."""
    ini = "[pytest]\naddopts = -p no:asyncio\nasyncio_mode = auto\nfilterwarnings = error\n"
    result = run_pytest(site, tmp_path, ini)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert "awaitest 0.1.0: mode=auto" in result.stdout


def test_both_plugins_active_is_refused(site: Path, tmp_path: Path) -> None:
    """With both plugins active, the run stops with one message saying what to do."""
    result = run_pytest(site, tmp_path, "[pytest]\nasyncio_mode = auto\n")
    assert result.returncode == 4, result.stdout + result.stderr
    assert (
        "ERROR: awaitest and pytest-asyncio are both active, and both would run your async "
        "tests. Keep one: add '-p no:asyncio' to your pytest options (addopts)"
    ) in result.stderr
