"""A throwaway PostgreSQL server for the tests of awaitest.sqlalchemy.

`running_server()` finds PostgreSQL's server binaries (on PATH, or Debian's
/usr/lib/postgresql/*/bin), installs them with .ci/install-postgres when they
are missing, runs initdb in a new temporary directory, starts postgres on a
free port of 127.0.0.1 (its unix socket in that directory, fsync off) and
stops it and removes the directory at exit. Each pytest-xdist worker starts
its own (about a second). postgres refuses to run as root, so as root the
server runs as the `postgres` user (`nobody` if there is none) through
runuser or setpriv. Nothing here is a test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALL_SCRIPT = ROOT / ".ci" / "install-postgres"
NEEDED = ("initdb", "pg_ctl", "postgres", "createdb")
SUPERUSER = "postgres"

#: Settings for speed: the data is thrown away, so nothing needs to reach the disk.
SERVER_OPTIONS = (
    "-F -c full_page_writes=off -c synchronous_commit=off -c max_connections=50 "
    "-c shared_buffers=16MB"
)


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be installed or started; the message says why."""


def _has_all(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in NEEDED)


def find_binaries() -> Path | None:
    """Return the directory holding initdb, pg_ctl, postgres and createdb, or None."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in path.parent.name.split(".") if part.isdigit())

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    return next((path for path in candidates if _has_all(path)), None)


def install_binaries() -> Path:
    """Return the binaries' directory, running .ci/install-postgres first if they are missing.

    A file lock keeps parallel workers from running the package manager twice.
    """
    with open(os.path.join(tempfile.gettempdir(), "awaitest-install-postgres.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = find_binaries()
        if found is not None:
            return found
        result = subprocess.run(
            [str(INSTALL_SCRIPT)], capture_output=True, text=True, check=False, timeout=900
        )
        found = find_binaries()
        if result.returncode != 0 or found is None:
            msg = (
                f"PostgreSQL's server binaries ({', '.join(NEEDED)}) are not installed and "
                f"{INSTALL_SCRIPT.relative_to(ROOT)} could not install them "
                f"(exit code {result.returncode}):\n{result.stdout}{result.stderr}"
            )
            raise PostgresUnavailable(msg)
        return found


def _server_user() -> str | None:
    """Return the user to run the server as: None for the current one, unless that is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresUnavailable("running as root, and neither a 'postgres' nor a 'nobody' user")


def _as_user(user: str | None, command: list[str]) -> list[str]:
    if user is None:
        return command
    if shutil.which("runuser"):
        return ["runuser", "-u", user, "--", *command]
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", *command]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(command: list[str], what: str, log: Path | None = None) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=60, env=env
    )
    if result.returncode != 0:
        logged = log.read_text(errors="replace") if log is not None and log.exists() else ""
        msg = f"{what} failed ({' '.join(command)}):\n{result.stdout}{result.stderr}{logged}"
        raise PostgresUnavailable(msg)


@dataclasses.dataclass
class Server:
    """A running throwaway server: `create_database()` gives each caller a fresh database."""

    bin: Path
    port: int
    _names: Iterator[int] = dataclasses.field(default_factory=itertools.count)

    def url(self, database: str) -> str:
        """Return the asyncpg URL of a database on this server."""
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """Create an empty database and return its asyncpg URL."""
        name = f"test_{next(self._names)}"
        command = [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port)]
        _run([*command, "-U", SUPERUSER, name], f"creating the database {name}")
        return self.url(name)


@contextlib.contextmanager
def running_server() -> Iterator[Server]:
    """Start a throwaway PostgreSQL server; stop it and delete its files at exit.

    Raises:
        PostgresUnavailable: It could not be installed or started (the message
            holds the tool's output and the server log).

    """
    bin_dir = install_binaries()
    user = _server_user()
    base = Path(tempfile.mkdtemp(prefix="awaitest-pg-"))
    data, log = base / "data", base / "server.log"
    try:
        if user is not None:
            shutil.chown(base, user, user)
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust"]
        _run(_as_user(user, [*initdb, "-E", "UTF8", "--locale=C", "-N"]), "initdb")
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-s"]
        for attempt in itertools.count(1):
            port = _free_port()
            options = f"{SERVER_OPTIONS} -c listen_addresses=127.0.0.1 -p {port} -k {base}"
            try:
                _run(_as_user(user, [*pg_ctl, "-t", "30", "-o", options, "start"]), "pg_ctl", log)
                break
            except PostgresUnavailable:
                # Another process may have taken the port between the check and the bind.
                if attempt == 3 or "could not bind" not in log.read_text(errors="replace"):
                    raise
        try:
            yield Server(bin_dir, port)
        finally:
            _run(_as_user(user, [*pg_ctl, "-m", "immediate", "stop"]), "stopping postgres", log)
    finally:
        shutil.rmtree(base, ignore_errors=True)
