"""`python -m bench`: run the benchmark suites and print, write and chart the results.

Parses the options, sets up the contenders, measures every case of the chosen suites, then
prints the table to stdout (progress goes to stderr) and writes results.json, results.md and
bench.png to --out. Exit status: 0, or 1 if a contender's run failed (its row says why), or 2
for a bad option or a broken environment.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import chart, contenders, report, runner
from bench.errors import BenchError
from bench.suites import SUITES, Case

ROOT = Path(__file__).resolve().parent.parent
QUICK_DIVISOR = 100


def parser() -> argparse.ArgumentParser:
    """Return the command's argument parser."""
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time synthetic suites under awaitest, pytest-asyncio, anyio and sync pytest.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="sizes divided by 100, 1 repetition, no warm-up (checks the command works)",
    )
    p.add_argument(
        "--suites",
        default=",".join(SUITES),
        help=f"comma-separated, from: {', '.join(SUITES)} (default: all)",
    )
    p.add_argument(
        "--reps", type=int, help="timed runs per contender and case (default 5; --quick 1)"
    )
    p.add_argument("--warmup", type=int, help="untimed runs first (default 1; --quick 0)")
    p.add_argument(
        "--contenders",
        default="all",
        help="'all' (one virtualenv each), or comma-separated names from: "
        f"{', '.join(contenders.NAMES)}; 'current' or 'current:NAME,...' runs those installed "
        "in this interpreter instead, creating no virtualenv",
    )
    p.add_argument(
        "--venv-dir",
        type=Path,
        default=ROOT / "bench" / ".venvs",
        help="where the contenders' virtualenvs are cached (default: bench/.venvs)",
    )
    p.add_argument(
        "--pytest-version",
        default=importlib.metadata.version("pytest"),
        help="pytest version of every virtualenv (default: this interpreter's)",
    )
    p.add_argument(
        "--awaitest",
        metavar="REQUIREMENT",
        help="what pip installs as awaitest, e.g. a directory holding a snapshot of a commit "
        "(default: this checkout, editable, so uncommitted changes are measured too)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results",
        help="directory for results.json, results.md and bench.png (default: bench/results)",
    )
    p.add_argument(
        "--replot",
        type=Path,
        metavar="RESULTS_JSON",
        help="print and write the results of an earlier run again (no run): after a chart change",
    )
    p.add_argument("--no-chart", action="store_true", help="do not draw bench.png")
    p.add_argument(
        "--publish",
        action="store_true",
        help="also copy the chart to docs/bench.png, which the README shows",
    )
    p.add_argument("--timeout", type=float, default=900.0, help="seconds before a run is killed")
    return p


def choose_suites(text: str) -> list[str]:
    """Return the suite names of --suites, validated."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SUITES]
    if unknown or not names:
        given = ", ".join(unknown) or "(none given)"
        msg = f"unknown suite(s) {given} in --suites; choose from: {', '.join(SUITES)}."
        raise BenchError(msg)
    return names


def setup(options: argparse.Namespace) -> contenders.Found:
    """Return the contenders of --contenders."""
    where, _, chosen = options.contenders.rpartition(":")
    if chosen == "current":
        where, chosen = "current", "all"
    specs = contenders.select(None if chosen == "all" else chosen.split(","))
    if where == "current":
        return contenders.current(specs)
    if where:
        msg = f"--contenders {options.contenders}: only 'current:' may precede the names."
        raise BenchError(msg)
    awaitest = ["-e", str(ROOT)] if options.awaitest is None else [options.awaitest]
    return contenders.virtualenvs(specs, options.venv_dir, options.pytest_version, awaitest, log)


def log(line: str) -> None:
    """Print a progress line to stderr."""
    print(line, file=sys.stderr, flush=True)


def _load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit status."""
    options = parser().parse_args(argv)
    try:
        return _main(options)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2


def _main(options: argparse.Namespace) -> int:
    if options.replot is not None:
        return _publish(*_load_results(options.replot), options)
    names = choose_suites(options.suites)
    divisor = QUICK_DIVISOR if options.quick else 1
    reps = options.reps if options.reps is not None else (1 if options.quick else 5)
    warmup = options.warmup if options.warmup is not None else (0 if options.quick else 1)
    if reps < 1 or warmup < 0:
        msg = f"--reps must be at least 1 and --warmup at least 0 (got {reps} and {warmup})."
        raise BenchError(msg)
    found, unavailable = setup(options)
    cases: list[Case] = [case for name in names for case in SUITES[name](divisor)]
    load_before = _load()
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="awaitest-bench-") as workdir:
        results = [
            runner.measure(
                case,
                found,
                reps=reps,
                warmup=warmup,
                workdir=Path(workdir),
                timeout=options.timeout,
                log=log,
            )
            for case in cases
        ]
    meta: dict[str, Any] = {
        "date": started,
        "argv": sys.argv[1:],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": _load(),
        "reps": reps,
        "warmup": warmup,
        "mode": "current interpreter"
        if options.contenders.startswith("current")
        else "virtualenvs",
        "contenders": {c.name: c.versions for c in found},
        "awaitest_from": "this interpreter"
        if options.contenders.startswith("current")
        else options.awaitest or f"{ROOT} (editable)",
        "unavailable": {u.name: u.reason for u in unavailable},
    }
    return _publish(results, meta, options)


def _publish(
    results: Sequence[runner.CaseResult], meta: dict[str, Any], options: argparse.Namespace
) -> int:
    """Print the table; write results.json, results.md and the chart; return the status."""
    heading = _heading(meta)
    print(heading + "\n\n" + report.table(results))
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "results.json").write_text(report.as_json(results, meta), encoding="utf-8")
    (options.out / "results.md").write_text(
        heading + "\n\n" + report.markdown(results), encoding="utf-8"
    )
    if not options.no_chart:
        png = options.out / "bench.png"
        chart.write(results, png, heading.splitlines()[0])
        if options.publish:
            shutil.copyfile(png, ROOT / "docs" / "bench.png")
    failed = [
        f"{r.case.name}/{row.contender}"
        for r in results
        for row in r.rows
        if row.status == "failed"
    ]
    if failed:
        log(f"bench: runs failed (see the table): {', '.join(failed)}")
    return 1 if failed else 0


def _load_results(path: Path) -> tuple[list[runner.CaseResult], dict[str, Any]]:
    try:
        return report.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as error:
        msg = f"--replot {path}: not a results.json written by python -m bench ({error!r})."
        raise BenchError(msg) from error


def _heading(meta: dict[str, Any]) -> str:
    versions: dict[str, str] = {}
    for contender_versions in meta["contenders"].values():
        versions |= contender_versions
    load = meta["load_average_before"]
    lines = [
        ", ".join(f"{name} {version}" for name, version in versions.items())
        + f"; {meta['mode']}; {meta['reps']} timed run(s) after {meta['warmup']} warm-up"
        + (f"; load average {load:.2f} on {meta['cpus']} CPUs at start" if load is not None else "")
    ]
    lines.append(f"awaitest from {meta['awaitest_from']}; run at {meta['date']}")
    for name, reason in meta["unavailable"].items():
        lines.append(f"not run: {name} ({reason})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
