"""Running the cases: pytest subprocesses, interleaved, with wall time and peak memory.

Each run of a case (a contender's, or one of a contender's runs: see `Plan.row`) is written
to its own directory; then every repetition goes through the runs round-robin, the order
rotated by one each repetition, so a machine slowing down or speeding up mid-run spreads over
all of them. Children write bytecode caches whatever this process's environment says, as on a
default Python, so the warm-up compiles the generated modules. A run counts only if pytest
exits 0 and reports exactly the expected number of tests; otherwise its row is dropped from
the case with the reason ("n/a" where the case probes a missing feature). Wall time is the
subprocess's, interpreter start included; the duration pytest reports is kept beside it; peak
memory is the child's ru_maxrss from os.wait4. Statistics and presentation live in `report`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from bench.contenders import Contender
from bench.errors import BenchError
from bench.suites import Case, Plan

#: pytest arguments of every run, before the contender's plugin switches.
BASE_ARGS = ("-q", "-p", "no:cacheprovider")
#: Environment variables that would change what the child pytest loads or reports, or make
#: it slower than on a default Python: without bytecode caches, every run compiles the test
#: modules again and re-does pytest's assertion rewriting of every plugin module.
_DROPPED_ENV = (
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
    "PYTHONDONTWRITEBYTECODE",
)
_SUMMARY = re.compile(r" in (?P<seconds>[\d.]+)s\b")
_PASSED = re.compile(r"\b(?P<n>\d+) passed\b")
_COLLECTED = re.compile(r"\b(?P<n>\d+) tests? collected\b")
_PROBLEM = re.compile(r"\b\d+ (failed|errors?)\b")
_PROGRESS = re.compile(r"[.FEsxX]+ *\[ *\d+%\]")

Status = Literal["ok", "n/a", "failed"]


@dataclasses.dataclass(frozen=True)
class Sample:
    """One timed run.

    Attributes:
        wall: Subprocess wall time in seconds, plus the plan's extrapolation.
        pytest_seconds: The duration pytest printed, plus the extrapolation (None if absent).
        rss_mb: The child's peak resident memory in MiB.
        position: When it ran among the case's runs (0-based, warm-ups included).
    """

    wall: float
    pytest_seconds: float | None
    rss_mb: float
    position: int


@dataclasses.dataclass
class Row:
    """One contender's results in one case (or one of its runs: see `Plan.row`)."""

    contender: str
    note: str = ""
    status: Status = "ok"
    reason: str = ""
    samples: list[Sample] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class CaseResult:
    """A case and its rows, in contender order."""

    case: Case
    rows: list[Row]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one pytest subprocess did."""

    returncode: int
    output: str
    wall: float
    rss_mb: float
    timed_out: bool = False


def run_pytest(python: str, args: Sequence[str], cwd: Path, timeout: float) -> Outcome:
    """Run `python -m pytest ARGS` in `cwd`; measure its wall time and peak memory.

    Raises:
        BenchError: The platform has no os.wait4 (Windows).
    """
    if not hasattr(os, "wait4"):
        msg = (
            "the benchmarks need os.wait4 to read a child's peak memory; "
            "run them on Linux or macOS."
        )
        raise BenchError(msg)
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED_ENV}
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        start = time.perf_counter()
        process = subprocess.Popen(
            [python, "-m", "pytest", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read()
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    rss_mb = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return Outcome(process.returncode, output, wall, rss_mb, timed_out=wall >= timeout)


def check(outcome: Outcome, plan: Plan) -> str | None:
    """Return why the run does not count, or None if it ran exactly the expected tests."""
    if outcome.timed_out:
        return f"killed after {outcome.wall:.0f} s (--timeout)"
    lines = outcome.output.strip().splitlines()
    last = lines[-1] if lines else ""
    counted = (_COLLECTED if plan.collect_only else _PASSED).search(last)
    if outcome.returncode == 0 and counted and int(counted["n"]) == plan.expected:
        return None
    what = "collected" if plan.collect_only else "passed"
    summary = last.strip("= ") or "no output"
    if outcome.returncode == 0 and not _PROBLEM.search(last):
        return f"expected {plan.expected} {what}, got: {summary}"
    return first_error(outcome.output) or f"pytest exited {outcome.returncode}: {summary}"


def first_error(output: str) -> str | None:
    """Return the first error line of a pytest report, shortened, or None."""
    lines = [line for line in output.splitlines() if not _PROGRESS.fullmatch(line)]
    for line in lines:
        if line.startswith("E  "):
            return _short(line[1:].strip())
    for index, line in enumerate(lines):
        if line.startswith("___") and index + 1 < len(lines):
            following = [text for text in lines[index + 1 :] if text.strip()]
            if following:
                return _short(following[0].strip())
    return None


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def sample(outcome: Outcome, plan: Plan, position: int) -> Sample:
    """Return the measurements of a counted run, the `position`-th of its case."""
    lines = outcome.output.strip().splitlines()
    match = _SUMMARY.search(lines[-1]) if lines else None
    reported = float(match["seconds"]) + plan.extrapolate if match else None
    return Sample(outcome.wall + plan.extrapolate, reported, outcome.rss_mb, position)


def measure(
    case: Case,
    contenders: Sequence[Contender],
    *,
    reps: int,
    warmup: int,
    workdir: Path,
    timeout: float,
    log: Callable[[str], None],
) -> CaseResult:
    """Run one case under every contender it applies to, interleaved.

    Args:
        case: The case.
        contenders: The contenders, in table order.
        reps: Timed runs per contender.
        warmup: Untimed runs per contender first (they compile the generated modules).
        workdir: A directory for the generated suites.
        timeout: Seconds after which a run is killed.
        log: Progress lines.

    Returns:
        The case's rows, one per run of a contender (interleaved, as the contenders); a run
        that does not count keeps its reason.
    """
    runs: list[tuple[Contender, Plan, Row, Path]] = []
    for contender in contenders:
        for plan in case.plans(contender):
            row = Row(plan.row or contender.name, plan.note)
            directory = workdir / case.name / row.contender.replace(" ", "-")
            for relative, text in plan.files.items():
                path = directory / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            runs.append((contender, plan, row, directory))
    position = 0
    for rep in range(warmup + reps):
        shift = rep % len(runs) if runs else 0
        for contender, plan, row, directory in runs[shift:] + runs[:shift]:
            if row.status != "ok":
                continue
            args = (*BASE_ARGS, *contender.plugin_args, *plan.args)
            outcome = run_pytest(contender.python, args, directory, timeout)
            position += 1
            problem = check(outcome, plan)
            if problem is not None:
                row.status = "n/a" if plan.unsupported_if_fails else "failed"
                row.reason = problem
                log(f"bench: {case.name}: {row.contender}: {row.status}: {problem}")
            elif rep >= warmup:
                row.samples.append(sample(outcome, plan, position - 1))
        log(f"bench: {case.name}: run {rep + 1}/{warmup + reps} done")
    return CaseResult(case, [row for _, _, row, _ in runs])
