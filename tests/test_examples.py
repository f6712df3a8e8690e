"""The main job: `python -m pytest examples` passes, with awaitest running the example suite."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import awaitest

ROOT = Path(__file__).resolve().parent.parent

#: examples/test_events.py (3 tests) needs asyncio.TaskGroup, new in Python 3.11.
NEEDS_311 = 3
#: The example suite has 26 tests; fewer passing means tests went missing.
MIN_PASSED = 26 if sys.version_info >= (3, 11) else 26 - NEEDS_311


@pytest.fixture(scope="module")
def examples_run() -> subprocess.CompletedProcess[str]:
    """Run the README's main job, `python -m pytest examples`, from the repository root."""
    # Nothing from the outer run: its worker id, its current test, options meant for it.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "examples", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_example_suite_passes(examples_run: subprocess.CompletedProcess[str]) -> None:
    """Every example test passes, none is skipped, and the run exits 0."""
    output = examples_run.stdout + examples_run.stderr
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    assert examples_run.returncode == 0, output
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary)}
    assert counts.get("passed", 0) >= MIN_PASSED, summary
    if sys.version_info >= (3, 11):
        assert set(counts) == {"passed"}, f"expected only passes: {summary}"
    else:  # pragma: no cover - the TaskGroup module skips itself
        assert counts.get("skipped") == NEEDS_311, summary


def test_example_suite_runs_on_awaitest(examples_run: subprocess.CompletedProcess[str]) -> None:
    """The example suite runs under awaitest in auto mode, with the repository's settings."""
    lines = examples_run.stdout.splitlines()
    header = f"awaitest {awaitest.__version__}: mode=auto, loop=asyncio, loop_scope=auto, "
    header += "guards=default, timeout=none"
    assert header in lines
    assert "configfile: pyproject.toml" in lines
