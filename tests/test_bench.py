"""The benchmark command works: `python -m bench --quick` prints its table and writes its files.

Benchmarks are not tests: nothing here checks a time, only that every suite ran under the
awaitest and sync contenders of this interpreter (`--contenders current:sync,awaitest`:
no virtualenvs are created), that the concurrency suites also run under
pytest-asyncio-cooperative (installed beside the suite), that the table, JSON and chart have
the promised shape, and that bad options are refused clearly.
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
from bench import report
from bench.contenders import SPECS, Contender, _fingerprint
from bench.runner import CaseResult, Outcome, Row, Sample, check
from bench.suites import SUITES, Case, Plan

from inner import pip_install

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
    "2 tests, async fixture, 0.2 s of asyncio.sleep each",
    "2 tests, a loopback TCP request answered after 100 ms each",
)
#: The concurrency cases' titles: awaitest sequential is their baseline, and sync not in them.
CONCURRENCY_TITLES = QUICK_TITLES[-2:]
CASE_NAMES = (
    "trivial",
    "function-fixture",
    "session-fixture",
    "sync-installed",
    "collection",
    "virtual-time",
    "memory-1000",
    "memory-10000",
    "concurrent-sleep",
    "concurrent-io",
)
#: A measured row: wall, min, pytest's duration, ratio vs the baseline, peak MiB, then the note.
NUMBERS = r"\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d\d?x\s+\d+\.\d"


def bench(
    *args: str, out: Path, pythonpath: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bench ARGS --out OUT` from the repository root."""
    # Nothing from the outer run: its worker id, its current test, options meant for it.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
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
    """Every case has a sync row (ratio 1.00x) and a measured awaitest row, in table order.

    The concurrency cases have no sync row: their baseline is awaitest's sequential row.
    """
    result, _ = quick
    assert result.returncode == 0, result.stdout + result.stderr
    assert "current interpreter; 1 timed run(s) after 0 warm-up" in result.stdout
    assert (
        "wall = pytest subprocess wall time in seconds, interpreter start included" in result.stdout
    )
    table = blocks(result.stdout)
    assert list(table) == list(QUICK_TITLES)
    for title, rows in table.items():
        if title in CONCURRENCY_TITLES:
            continue  # checked below
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


def test_concurrency_cases_compare_awaitest_sequential_and_concurrent(
    quick: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """The concurrency cases show awaitest sequential (1.00x, the baseline) and concurrent.

    Contenders that run tests one by one (sync here) have no row in them.
    """
    result, _ = quick
    table = blocks(result.stdout)
    for title in CONCURRENCY_TITLES:
        sequential, concurrent = table[title]
        assert re.fullmatch(rf"  awaitest{NUMBERS}  sequential \(the baseline\)", sequential)
        assert "1.00x" in sequential
        assert re.fullmatch(rf"  awaitest concurrent{NUMBERS}  concurrent=True", concurrent)


def test_quick_run_writes_json_markdown_and_chart(
    quick: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """results.json holds every sample and statistic, results.md the table, bench.png the chart."""
    _, out = quick
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    assert [case["name"] for case in data["cases"]] == list(CASE_NAMES)
    assert [case["tests"] for case in data["cases"]] == [20, 20, 20, 20, 100, 2, 10, 100, 2, 2]
    assert data["meta"]["reps"] == 1
    assert list(data["meta"]["contenders"]) == ["sync", "awaitest"]
    baselines = ["sync"] * 8 + ["awaitest"] * 2
    assert [case["baseline"] for case in data["cases"]] == baselines
    for case in data["cases"]:
        rows = {row["contender"]: row for row in case["rows"]}
        assert rows[case["baseline"]]["stats"]["vs_baseline"] == 1.0
        for row in rows.values():
            if row["status"] == "ok":
                assert len(row["samples"]) == 1
                assert set(row["samples"][0]) == {"wall", "pytest_seconds", "rss_mb", "position"}
            else:
                assert row["samples"] == []
                assert row["reason"]
    markdown = (out / "results.md").read_text()
    assert (
        "| case | contender | wall s | min s | pytest s | vs base | peak MiB | note |" in markdown
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
    assert stats["vs_baseline"] == pytest.approx(walls["awaitest"][1] / walls["sync"][1])
    assert not (tmp_path / "bench.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--suites", "trivial,nope"),
            "bench: unknown suite(s) nope in --suites; choose from: trivial, function-fixture, "
            "session-fixture, sync-installed, collection, virtual-time, memory, concurrent-sleep, "
            "concurrent-io.",
        ),
        (
            ("--contenders", "awaitest,trio"),
            "bench: unknown contender(s) trio in --contenders; choose from: sync, awaitest, "
            "pytest-asyncio, anyio, pytest-asyncio+looptime, pytest-asyncio-cooperative.",
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


def _plans(suite: str, spec_name: str) -> tuple[Plan, ...]:
    spec = next(spec for spec in SPECS if spec.name == spec_name)
    contender = Contender.of(spec, sys.executable, {})
    return SUITES[suite](100)[0].plans(contender)


@pytest.mark.parametrize("suite", ["concurrent-sleep", "concurrent-io"])
def test_concurrency_suites_differ_only_in_how_tests_opt_in(suite: str) -> None:
    """Both awaitest runs and cooperative's share every file but the test modules' markers.

    The loopback server and the conftest starting it are the same for all (contender-neutral);
    the contenders that run tests one by one have no run in these cases.
    """
    sequential, concurrent = _plans(suite, "awaitest")
    (cooperative,) = _plans(suite, "pytest-asyncio-cooperative")
    assert (sequential.row, concurrent.row, cooperative.row) == ("", "awaitest concurrent", "")
    shared = {"conftest.py", "loopback_server.py"} & set(sequential.files)
    assert shared == (
        {"conftest.py", "loopback_server.py"} if suite == "concurrent-io" else {"conftest.py"}
    )
    for name in shared:
        assert sequential.files[name] == concurrent.files[name] == cooperative.files[name]
    mark = "pytestmark = pytest.mark.awaitest(concurrent=True)\n"
    module = sequential.files["test_m000.py"]
    assert concurrent.files["test_m000.py"] == module.replace("\n\n\n", "\n\n" + mark + "\n\n", 1)
    assert cooperative.files["test_m000.py"].count("@pytest.mark.asyncio_cooperative\n") == 2
    assert "pytestmark" not in module + cooperative.files["test_m000.py"]
    for name in ("sync", "pytest-asyncio", "anyio", "pytest-asyncio+looptime"):
        assert _plans(suite, name) == ()
    assert _plans("trivial", "pytest-asyncio-cooperative") == ()


@pytest.fixture(scope="module")
def cooperative_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest-asyncio-cooperative, installed beside the suite (not into its environment)."""
    return pip_install(
        tmp_path_factory.mktemp("site"), "--no-deps", "pytest-asyncio-cooperative==0.40.0"
    )


def test_cooperative_runs_the_concurrency_suites(cooperative_site: Path, tmp_path: Path) -> None:
    """pytest-asyncio-cooperative runs the concurrency suites beside awaitest's two runs.

    The table compares it with awaitest's concurrent run ("peer / subject").
    """
    contenders = "current:sync,awaitest,pytest-asyncio-cooperative"
    result = bench(
        "--quick",
        "--contenders",
        contenders,
        "--suites",
        "concurrent-sleep,concurrent-io,trivial",
        "--no-chart",
        out=tmp_path,
        pythonpath=cooperative_site,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pytest-asyncio-cooperative 0.40.0" in result.stdout
    table = blocks(result.stdout)
    for title in CONCURRENCY_TITLES:
        rows = table[title]
        assert [row.split("  ")[1].strip() for row in rows[:3]] == [
            "awaitest",
            "awaitest concurrent",
            "pytest-asyncio-cooperative",
        ]
        assert re.fullmatch(
            rf"  pytest-asyncio-cooperative{NUMBERS}  @pytest.mark.asyncio_cooperative", rows[2]
        ), rows[2]
        assert re.fullmatch(
            r"  pytest-asyncio-cooperative / awaitest concurrent: \d+\.\d\dx", rows[3]
        ), rows[3]
        assert len(rows) == 4
    # Cooperative applies to the concurrency suites only.
    assert [row.split()[0] for row in table["20 trivial async tests"]] == ["sync", "awaitest"]


def _result(case: Case, medians: dict[str, float]) -> CaseResult:
    rows = [Row(name, samples=[Sample(wall, None, 40.0, 0)]) for name, wall in medians.items()]
    return CaseResult(case, rows)


IO_CASE = Case(
    "concurrent-io",
    "100 tests, a loopback TCP request answered after 100 ms each",
    100,
    "concurrency",
    lambda _: None,
    0.05,
    baseline="awaitest",
    subject="awaitest concurrent",
    peer="pytest-asyncio-cooperative",
    peer_target=1.0,
)


@pytest.mark.parametrize(
    ("concurrent", "cooperative", "verdict", "comparison"),
    [
        (
            0.5,
            0.6,
            "0.050x  target <= 0.05x (20x faster): met",
            "1.20x; target >= 1.00x: met",
        ),
        (
            0.7,
            0.56,
            "0.070x  target <= 0.05x (20x faster): MISSED",
            "0.80x; target >= 1.00x: MISSED",
        ),
    ],
)
def test_concurrency_targets_are_judged_against_the_baseline_and_the_peer(
    concurrent: float, cooperative: float, verdict: str, comparison: str
) -> None:
    """The subject's ratio is to the case's baseline; the peer line says if it is no slower."""
    medians = {
        "awaitest": 10.0,
        "awaitest concurrent": concurrent,
        "pytest-asyncio-cooperative": cooperative,
    }
    lines = report.table([_result(IO_CASE, medians)]).splitlines()
    rows = lines[lines.index(IO_CASE.title) + 1 :]
    assert re.fullmatch(r"  awaitest\s+10\.00 .* 1\.00x .*", rows[0]), rows[0]
    assert rows[1].startswith("  awaitest concurrent ")
    assert rows[1].endswith(verdict.replace("  ", "     40.0  ", 1)), rows[1]
    assert rows[3] == f"  pytest-asyncio-cooperative / awaitest concurrent: {comparison}"
    markdown = report.markdown([_result(IO_CASE, medians)])
    ratio, _, note = comparison.partition("; ")
    assert (
        f"| {IO_CASE.title} | pytest-asyncio-cooperative / awaitest concurrent | | | | {ratio} "
        f"| | {note} |"
    ) in markdown


def test_results_written_before_the_concurrency_cases_still_replot() -> None:
    """An older results.json still replots: its cases are against sync, as every case was then.

    Without a case's baseline, subject and peer, they are sync, awaitest and pytest-asyncio.
    """
    old = {
        "meta": {},
        "cases": [
            {
                "name": "trivial",
                "title": "20 trivial async tests",
                "tests": 20,
                "kind": "overhead",
                "target": None,
                "rows": [
                    {
                        "contender": name,
                        "note": "",
                        "status": "ok",
                        "reason": "",
                        "samples": [
                            {"wall": wall, "pytest_seconds": None, "rss_mb": 40.0, "position": 0}
                        ],
                    }
                    for name, wall in (("sync", 1.0), ("awaitest", 1.2), ("pytest-asyncio", 1.5))
                ],
            }
        ],
    }
    (result,), _ = report.from_json(json.dumps(old))
    case = result.case
    assert (case.baseline, case.subject, case.peer, case.peer_target) == (
        "sync",
        "awaitest",
        "pytest-asyncio",
        None,
    )
    assert report.stats(result, result.rows[1]).vs_baseline == pytest.approx(1.2)
    assert report.peer_ratio(result) == pytest.approx(1.25)


def test_a_copied_directory_requirement_is_reinstalled_when_its_files_change(
    tmp_path: Path,
) -> None:
    """--awaitest DIR reads the same after DIR changes: the environment's key has its digest."""
    (tmp_path / "src").mkdir()
    module = tmp_path / "src" / "module.py"
    module.write_text("x = 1\n")
    before = _fingerprint(str(tmp_path))
    assert re.fullmatch(rf"{re.escape(str(tmp_path))} \(files [0-9a-f]{{16}}\)", before)
    assert _fingerprint(str(tmp_path)) == before
    module.write_text("x = 22\n")
    assert _fingerprint(str(tmp_path)) != before
    assert _fingerprint("pytest-asyncio==1.5.0") == "pytest-asyncio==1.5.0"
