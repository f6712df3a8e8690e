"""The benchmark command works: `python -m bench --quick` prints its table and writes its files.

Benchmarks are not tests: nothing here checks a time, only that every suite ran under the
awaitest and sync contenders of this interpreter (`--contenders current:sync,awaitest`:
no virtualenvs are created), that the
table, JSON and chart have the promised shape, and that bad options are refused clearly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench.runner import Outcome, check
from bench.suites import Plan

ROOT = Path(__file__).resolve().parent.parent

#: Case titles of a --quick run (sizes divided by 100), in table order.
QUICK_TITLES = (
    "20 trivial async tests",
    "20 tests, function-scoped async fixture",
    "20 tests, session-scoped async fixture",
    "20 sync tests, plugin installed vs not",
    "collecting 100 async tests",
    "2 tests sleeping 1 s",
    "peak memory, 10 async tests",
    "peak memory, 100 async tests",
)
CASE_NAMES = (
    "trivial",
    "function-fixture",
    "session-fixture",
    "sync-installed",
    "collection",
    "virtual-time",
    "memory-1000",
    "memory-10000",
)
#: A measured row: wall, min, pytest's duration, ratio vs sync, peak MiB, then the note.
NUMBERS = r"\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\dx\s+\d+\.\d"


def bench(*args: str, out: Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m bench ARGS --out OUT` from the repository root."""
    # Nothing from the outer run: its worker id, its current test, options meant for it.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args, "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def quick(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the tiny version of every suite once, with this interpreter's awaitest and sync."""
    out = tmp_path_factory.mktemp("bench")
    return bench("--quick", "--contenders", "current:sync,awaitest", out=out), out


def blocks(stdout: str) -> dict[str, list[str]]:
    """Map each case title of the table to its indented rows."""
    table: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in stdout.splitlines():
        if line in QUICK_TITLES:
            current = table.setdefault(line, [])
        elif line.startswith("  ") and current is not None:
            current.append(line)
        else:
            current = None
    return table


def test_quick_run_prints_a_row_per_contender_and_case(
    quick: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """Every case has a sync row (ratio 1.00x) and a measured awaitest row, in table order."""
    result, _ = quick
    assert result.returncode == 0, result.stdout + result.stderr
    assert "current interpreter; 1 timed run(s) after 0 warm-up" in result.stdout
    assert (
        "wall = pytest subprocess wall time in seconds, interpreter start included" in result.stdout
    )
    table = blocks(result.stdout)
    assert list(table) == list(QUICK_TITLES)
    for title, rows in table.items():
        assert rows[0].startswith("  sync "), (title, rows)
        assert re.fullmatch(rf"  sync{NUMBERS}.*", rows[0]), rows[0]
        assert "1.00x" in rows[0]
        awaitest = next(row for row in rows if row.startswith("  awaitest "))
        if title == "2 tests sleeping 1 s":
            continue  # the virtual-time row is checked below
        assert re.fullmatch(rf"  awaitest{NUMBERS}.*", awaitest), awaitest
    assert re.search(
        r"^peak memory growth from 10 to 100 tests \(MiB, medians\): sync [+-]\d",
        result.stdout,
        re.M,
    )


def test_virtual_time_is_measured_or_reported_unsupported(
    quick: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """The virtual-time row of awaitest is measured, or says the marker is not supported.

    The real-sleep rows say their sleeps were scaled down and the difference added back.
    """
    result, _ = quick
    rows = blocks(result.stdout)["2 tests sleeping 1 s"]
    awaitest = next(row for row in rows if row.startswith("  awaitest "))
    unsupported = re.fullmatch(
        r"  awaitest\s+n/a \(not supported\)  virtual_time=True: .+", awaitest
    )
    measured = re.fullmatch(rf"  awaitest{NUMBERS}  virtual_time=True", awaitest)
    assert unsupported or measured, awaitest
    assert rows[0].endswith("real 0.01 s sleeps, +1.98 s added"), rows[0]


def test_quick_run_writes_json_markdown_and_chart(
    quick: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """results.json holds every sample and statistic, results.md the table, bench.png the chart."""
    _, out = quick
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    assert [case["name"] for case in data["cases"]] == list(CASE_NAMES)
    assert [case["tests"] for case in data["cases"]] == [20, 20, 20, 20, 100, 2, 10, 100]
    assert data["meta"]["reps"] == 1
    assert list(data["meta"]["contenders"]) == ["sync", "awaitest"]
    for case in data["cases"]:
        rows = {row["contender"]: row for row in case["rows"]}
        assert rows["sync"]["stats"]["vs_sync"] == 1.0
        for row in rows.values():
            if row["status"] == "ok":
                assert len(row["samples"]) == 1
                assert set(row["samples"][0]) == {"wall", "pytest_seconds", "rss_mb", "position"}
            else:
                assert row["samples"] == []
                assert row["reason"]
    markdown = (out / "results.md").read_text()
    assert (
        "| case | contender | wall s | min s | pytest s | vs sync | peak MiB | note |" in markdown
    )
    png = (out / "bench.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000


def test_replot_prints_and_writes_an_earlier_run_again(
    quick: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    """--replot RESULTS_JSON gives the same table and files without running anything."""
    result, out = quick
    again = bench("--replot", str(out / "results.json"), out=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout == result.stdout
    assert again.stderr == ""
    assert (tmp_path / "results.json").read_text() == (out / "results.json").read_text()
    assert (tmp_path / "bench.png").read_bytes().startswith(b"\x89PNG")


def test_repetitions_are_interleaved_and_summarised_by_medians(tmp_path: Path) -> None:
    """Each repetition runs every contender once, the order rotated each time.

    Warm-up runs are not samples; the table's ratio is of the medians.
    """
    result = bench(
        "--quick",
        "--contenders",
        "current:sync,awaitest",
        "--suites",
        "trivial",
        "--warmup",
        "1",
        "--reps",
        "3",
        "--no-chart",
        out=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    case = json.loads((tmp_path / "results.json").read_text())["cases"][0]
    rows = {row["contender"]: row for row in case["rows"]}
    # Runs 0-1 are the warm-up (sync, awaitest); then awaitest, sync; sync, awaitest; ...
    assert [s["position"] for s in rows["sync"]["samples"]] == [3, 4, 7]
    assert [s["position"] for s in rows["awaitest"]["samples"]] == [2, 5, 6]
    walls = {name: sorted(s["wall"] for s in row["samples"]) for name, row in rows.items()}
    stats = rows["awaitest"]["stats"]
    assert stats["median"] == walls["awaitest"][1]
    assert stats["minimum"] == walls["awaitest"][0]
    assert stats["vs_sync"] == pytest.approx(walls["awaitest"][1] / walls["sync"][1])
    assert not (tmp_path / "bench.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--suites", "trivial,nope"),
            "bench: unknown suite(s) nope in --suites; choose from: trivial, function-fixture, "
            "session-fixture, sync-installed, collection, virtual-time, memory.",
        ),
        (
            ("--contenders", "awaitest,trio"),
            "bench: unknown contender(s) trio in --contenders; choose from: sync, awaitest, "
            "pytest-asyncio, anyio, pytest-asyncio+looptime.",
        ),
        (
            ("--contenders", "awaitest,pytest-asyncio"),
            "bench: --contenders must include sync and awaitest (sync is the baseline of every "
            "ratio); add sync.",
        ),
        (
            ("--replot", "missing.json"),
            "bench: --replot missing.json: not a results.json written by python -m bench "
            "(FileNotFoundError(2, 'No such file or directory')).",
        ),
        (
            ("--reps", "0"),
            "bench: --reps must be at least 1 and --warmup at least 0 (got 0 and 0).",
        ),
    ],
)
def test_bad_options_are_refused(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    """A bad option stops the command with exit status 2 and says what is allowed."""
    result = bench("--quick", *args, out=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == message
    assert result.stdout == ""


FAILED_RUN = """\
.F                                                                       [100%]
=================================== FAILURES ===================================
____________________________________ test_1 ____________________________________

    def test_1():
>       assert answer() == 41
E       assert 42 == 41

test_m000.py:9: AssertionError
1 failed, 1 passed in 0.05s
"""
SETUP_ERROR = """\
E                                                                        [100%]
==================================== ERRORS ====================================
___________________________ ERROR at setup of test_0 ___________________________
test_m000.py::test_0: @pytest.mark.awaitest got unknown argument(s) virtual_time.
=========================== short test summary info ============================
ERROR test_m000.py::test_0 - Failed: test_m000.py::test_0: @pytest.mark.awaitest go...
1 error in 0.02s
"""


@pytest.mark.parametrize(
    ("returncode", "output", "collect_only", "problem"),
    [
        (0, "..\n2 passed in 0.01s\n", False, None),
        (0, "test_m000.py::test_0\n\n2 tests collected in 0.01s\n", True, None),
        (0, "..\n2 passed in 0.01s\n", True, "expected 2 collected, got: 2 passed in 0.01s"),
        (0, ".\n1 passed in 0.01s\n", False, "expected 2 passed, got: 1 passed in 0.01s"),
        (1, FAILED_RUN, False, "assert 42 == 41"),
        (
            1,
            SETUP_ERROR,
            False,
            "test_m000.py::test_0: @pytest.mark.awaitest got unknown argument(s) virtual_time.",
        ),
        (
            4,
            "ERROR: usage: pytest [options]\n",
            False,
            "pytest exited 4: ERROR: usage: pytest [options]",
        ),
    ],
)
def test_a_run_counts_only_if_exactly_the_expected_tests_pass(
    returncode: int, output: str, collect_only: bool, problem: str | None
) -> None:
    """A run is measured only if pytest exits 0 having passed (or collected) every test.

    Otherwise the reason is the first error line of pytest's report.
    """
    outcome = Outcome(returncode, output, wall=0.5, rss_mb=30.0)
    assert check(outcome, Plan({}, collect_only=collect_only, expected=2)) == problem


def test_a_killed_run_says_so() -> None:
    """A run killed at --timeout is reported as such, not as pytest's exit status."""
    outcome = Outcome(-9, ".", wall=900.2, rss_mb=30.0, timed_out=True)
    assert check(outcome, Plan({}, expected=2)) == "killed after 900 s (--timeout)"
