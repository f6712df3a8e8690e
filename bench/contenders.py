"""The contenders: which interpreter and which plugins run each generated suite.

Two ways to get them. `virtualenvs` gives every contender its own virtual environment with the
same pytest version, created once and cached (rebuilt when its requirement list changes).
`current` uses the running interpreter for the contenders installed in it, and switches every
other pytest plugin installed there off with `-p no:NAME` (enough for the command's own test,
which must not create environments). Nothing here times anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.errors import BenchError

#: Async plugins' entry-point names; each contender switches off the ones not its own.
ASYNC_PLUGINS = ("awaitest", "asyncio", "anyio", "asyncio-cooperative")
PYTEST_ASYNCIO = "pytest-asyncio==1.5.0"
PYTEST_ASYNCIO_COOPERATIVE = "pytest-asyncio-cooperative==0.40.0"
#: Contenders every run needs: sync is the baseline of every ratio, awaitest the subject.
REQUIRED = ("sync", "awaitest")


def _off(*own: str) -> tuple[str, ...]:
    args: list[str] = []
    for name in ASYNC_PLUGINS:
        if name not in own:
            args += ["-p", f"no:{name}"]
    return tuple(args)


@dataclasses.dataclass(frozen=True)
class Spec:
    """A contender before it has an interpreter.

    Attributes:
        name: Its name in tables and `--contenders`.
        flavour: How its tests are written: "awaitest", "pytest-asyncio", "anyio", "sync" or
            "cooperative".
        requirements: What pip installs beside pytest; "{awaitest}" stands for awaitest's
            requirement (by default this checkout, editable).
        plugin_args: pytest arguments switching the other async plugins off.
        distributions: Distributions whose versions the report shows.
        special: A feature only some cases use ("looptime", "cooperative"); other cases skip
            the contender.
    """

    name: str
    flavour: str
    requirements: tuple[str, ...]
    plugin_args: tuple[str, ...]
    distributions: tuple[str, ...] = ()
    special: str | None = None


SPECS = (
    Spec("sync", "sync", (), _off()),
    Spec("awaitest", "awaitest", ("{awaitest}",), _off("awaitest"), ("awaitest",)),
    Spec(
        "pytest-asyncio", "pytest-asyncio", (PYTEST_ASYNCIO,), _off("asyncio"), ("pytest-asyncio",)
    ),
    Spec("anyio", "anyio", ("anyio",), _off("anyio"), ("anyio",)),
    Spec(
        "pytest-asyncio+looptime",
        "pytest-asyncio",
        (PYTEST_ASYNCIO, "looptime"),
        _off("asyncio"),
        ("pytest-asyncio", "looptime"),
        special="looptime",
    ),
    Spec(
        "pytest-asyncio-cooperative",
        "cooperative",
        (PYTEST_ASYNCIO_COOPERATIVE,),
        _off("asyncio-cooperative"),
        ("pytest-asyncio-cooperative",),
        special="cooperative",
    ),
)
NAMES = tuple(spec.name for spec in SPECS)


@dataclasses.dataclass(frozen=True)
class Contender:
    """A contender ready to run: its interpreter, plugin switches and versions."""

    name: str
    flavour: str
    python: str
    plugin_args: tuple[str, ...]
    versions: dict[str, str]
    special: str | None = None

    @classmethod
    def of(cls, spec: Spec, python: str, versions: dict[str, str]) -> Contender:
        """Return the contender of `spec` running on `python`."""
        return cls(spec.name, spec.flavour, python, spec.plugin_args, versions, spec.special)


@dataclasses.dataclass(frozen=True)
class Unavailable:
    """A contender that could not be set up, and why."""

    name: str
    reason: str


Found = tuple[list[Contender], list[Unavailable]]


def select(names: Sequence[str] | None) -> list[Spec]:
    """Return the specs named (all if None), in their canonical order.

    Raises:
        BenchError: A name is unknown, or a required contender is left out.
    """
    if names is None:
        return list(SPECS)
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        msg = (
            f"unknown contender(s) {', '.join(unknown)} in --contenders; "
            f"choose from: {', '.join(NAMES)}."
        )
        raise BenchError(msg)
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        msg = (
            f"--contenders must include {' and '.join(REQUIRED)} (sync is the baseline of every "
            f"ratio); add {', '.join(missing)}."
        )
        raise BenchError(msg)
    return [spec for spec in SPECS if spec.name in names]


def _installed(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def current(specs: Sequence[Spec]) -> Found:
    """Return the contenders the running interpreter has installed.

    Raises:
        BenchError: awaitest is not installed here.
    """
    found: list[Contender] = []
    unavailable: list[Unavailable] = []
    base = {"python": platform.python_version(), "pytest": _installed("pytest") or "?"}
    for spec in specs:
        versions = {name: _installed(name) for name in spec.distributions}
        missing = [name for name, version in versions.items() if version is None]
        if missing:
            unavailable.append(Unavailable(spec.name, f"{', '.join(missing)} not installed"))
            continue
        known = {name: version for name, version in versions.items() if version is not None}
        contender = Contender.of(spec, sys.executable, base | known)
        found.append(dataclasses.replace(contender, plugin_args=_others_off(spec)))
    _require(unavailable, "install it in this interpreter (pip install -e .)")
    return found, unavailable


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-")


def _others_off(spec: Spec) -> tuple[str, ...]:
    """Switch off every installed pytest plugin but the contender's own (current mode)."""
    own = {_canonical(name) for name in spec.distributions}
    args: list[str] = []
    for entry_point in importlib.metadata.entry_points(group="pytest11"):
        dist = entry_point.dist
        if dist is None or _canonical(dist.name) not in own:
            args += ["-p", f"no:{entry_point.name}"]
    return tuple(args)


def virtualenvs(
    specs: Sequence[Spec],
    directory: Path,
    pytest_version: str,
    awaitest: Sequence[str],
    log: Callable[[str], None],
) -> Found:
    """Create (or reuse) one virtual environment per contender under `directory`.

    Args:
        specs: The contenders.
        directory: Where the environments live (one subdirectory each).
        pytest_version: The pytest every environment gets.
        awaitest: pip arguments installing awaitest (e.g. "-e", the checkout).
        log: Progress lines.

    Returns:
        The contenders set up, and those whose installation failed.

    Raises:
        BenchError: sync or awaitest could not be set up.
    """
    found: list[Contender] = []
    unavailable: list[Unavailable] = []
    for spec in specs:
        requirements = [f"pytest=={pytest_version}"]
        for item in spec.requirements:
            requirements += awaitest if item == "{awaitest}" else [item]
        try:
            python = _venv(directory / spec.name, requirements, log)
        except BenchError as error:
            unavailable.append(Unavailable(spec.name, str(error)))
            continue
        versions = _versions(python, ("pytest", *spec.distributions))
        found.append(Contender.of(spec, str(python), versions))
    _require(unavailable, f"see the error above; delete {directory} to start afresh")
    return found, unavailable


def _require(unavailable: list[Unavailable], fix: str) -> None:
    for item in unavailable:
        if item.name in REQUIRED:
            msg = f"contender {item.name} is unavailable ({item.reason}); {fix}."
            raise BenchError(msg)


def _venv(directory: Path, requirements: list[str], log: Callable[[str], None]) -> Path:
    bin_dir = "Scripts" if os.name == "nt" else "bin"
    python = directory / bin_dir / ("python.exe" if os.name == "nt" else "python")
    stamp = directory / "bench-requirements.txt"
    # An editable install follows its directory; a copied one is stale once its files change.
    previous = ["", *requirements[:-1]]
    lines = [
        item if before == "-e" else _fingerprint(item)
        for item, before in zip(requirements, previous, strict=True)
    ]
    key = "\n".join([sys.version, *lines]) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == key:
        return python
    log(f"bench: creating {directory} ({' '.join(requirements)})")
    shutil.rmtree(directory, ignore_errors=True)
    steps = (
        [sys.executable, "-m", "venv", str(directory)],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *requirements,
        ],
    )
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
            msg = f"'{' '.join(step[2:5])} ...' failed: {lines[-1]}"
            raise BenchError(msg)
    stamp.write_text(key, encoding="utf-8")
    return python


def _fingerprint(requirement: str) -> str:
    """Return the requirement, with a digest of its files if it is a local directory.

    A directory (an exported commit, say) installed non-editable is copied into the
    environment: when its files change, the environment must be created again, though the
    requirement reads the same.
    """
    path = Path(requirement)
    if not path.is_dir():
        return requirement
    digest = hashlib.sha256()
    for file in sorted(path.rglob("*")):
        if file.is_file():
            stat = file.stat()
            digest.update(
                f"{file.relative_to(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode()
            )
    return f"{requirement} (files {digest.hexdigest()[:16]})"


_VERSIONS = """
import importlib.metadata, json, platform, sys
versions = {"python": platform.python_version()}
for name in sys.argv[1:]:
    versions[name] = importlib.metadata.version(name)
print(json.dumps(versions))
"""


def _versions(python: Path, distributions: Sequence[str]) -> dict[str, str]:
    result = subprocess.run(
        [str(python), "-c", _VERSIONS, *distributions],
        capture_output=True,
        text=True,
        check=True,
    )
    versions: dict[str, str] = json.loads(result.stdout)
    return versions
