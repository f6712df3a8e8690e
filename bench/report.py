"""Presenting results: statistics per row, the plain-text table, Markdown and JSON.

Every number shown derives from `Stats`: the median and minimum of the subprocess wall times,
the median duration pytest printed, the median peak memory, and the ratio of medians against
the sync contender of the same case. Nothing here runs anything.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Sequence
from typing import Any

from bench.runner import CaseResult, Row, Sample
from bench.suites import Case

BASELINE = "sync"
SUBJECT = "awaitest"
PEER = "pytest-asyncio"
HEADER = (
    "wall = pytest subprocess wall time in seconds, interpreter start included (median and min "
    "of the timed runs); pytest = the duration pytest printed (median); vs sync = ratio of "
    "median wall times to the sync contender's; peak = the child's peak RSS in MiB (median)."
)


@dataclasses.dataclass(frozen=True)
class Stats:
    """What the table shows for one row (None where there are no samples)."""

    median: float | None
    minimum: float | None
    pytest_median: float | None
    rss_mb: float | None
    vs_sync: float | None


def stats(result: CaseResult, row: Row) -> Stats:
    """Return the statistics of one row of a case."""
    walls = [s.wall for s in row.samples]
    reported = [s.pytest_seconds for s in row.samples if s.pytest_seconds is not None]
    median = statistics.median(walls) if walls else None
    base = _median_of(result, BASELINE)
    return Stats(
        median,
        min(walls) if walls else None,
        statistics.median(reported) if reported else None,
        statistics.median([s.rss_mb for s in row.samples]) if walls else None,
        median / base if median is not None and base else None,
    )


def _median_of(result: CaseResult, contender: str) -> float | None:
    for row in result.rows:
        if row.contender == contender and row.samples:
            return statistics.median(s.wall for s in row.samples)
    return None


def peer_ratio(result: CaseResult) -> float | None:
    """Return pytest-asyncio's median wall time over awaitest's (> 1: awaitest is faster)."""
    peer, subject = _median_of(result, PEER), _median_of(result, SUBJECT)
    return peer / subject if peer is not None and subject else None


def verdict(result: CaseResult) -> str:
    """Return whether awaitest met the case's target ratio vs sync ("" if it has none)."""
    target = result.case.target
    if target is None:
        return ""
    row = next((r for r in result.rows if r.contender == SUBJECT), None)
    ratio = stats(result, row).vs_sync if row else None
    if ratio is None:
        return f"target <= {target:.2f}x: not measured"
    return f"target <= {target:.2f}x: {'met' if ratio <= target else 'MISSED'}"


def growth(results: Sequence[CaseResult]) -> str:
    """Return a line comparing peak-memory growth between the first and last memory cases."""
    memory = [r for r in results if r.case.kind == "memory"]
    if len(memory) < 2:
        return ""
    first, last = memory[0], memory[-1]
    parts = []
    for row in last.rows:
        before = next((r for r in first.rows if r.contender == row.contender), None)
        low = stats(first, before).rss_mb if before else None
        high = stats(last, row).rss_mb
        if low is not None and high is not None:
            parts.append(f"{row.contender} {high - low:+.1f}")
    span = f"{first.case.tests:,} to {last.case.tests:,} tests"
    return f"peak memory growth from {span} (MiB, medians): " + ", ".join(parts)


def _num(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def ratio(value: float | None) -> str:
    """Format a ratio: two decimals, three below 0.1 (virtual time against real sleeps)."""
    return _num(value, ".2f" if value is None or value >= 0.1 else ".3f", "x")


def _cells(result: CaseResult, row: Row) -> list[str]:
    if row.status != "ok":
        label = "n/a (not supported)" if row.status == "n/a" else "FAILED"
        return [label, "", "", "", "", f"{row.note}: {row.reason}" if row.note else row.reason]
    s = stats(result, row)
    note = row.note
    if row.contender == SUBJECT and verdict(result):
        note = "; ".join(filter(None, [note, verdict(result)]))
    return [
        _num(s.median, ".2f"),
        _num(s.minimum, ".2f"),
        _num(s.pytest_median, ".2f"),
        ratio(s.vs_sync),
        _num(s.rss_mb, ".1f"),
        note,
    ]


COLUMNS = ("contender", "wall s", "min s", "pytest s", "vs sync", "peak MiB", "note")
_WIDTHS = (26, 9, 8, 9, 8, 9)


def table(results: Sequence[CaseResult]) -> str:
    """Return the plain-text table: a block of rows per case, then the comparisons."""
    lines = [HEADER, ""]
    head = "".join(
        f"{name:<{width}}" if i == 0 else f"{name:>{width}}"
        for i, (name, width) in enumerate(zip(COLUMNS, _WIDTHS, strict=False))
    )
    lines.append(head + "  " + COLUMNS[-1])
    for result in results:
        lines.append(f"{result.case.title}")
        for row in result.rows:
            cells = _cells(result, row)
            if row.status != "ok":
                lines.append(f"  {row.contender:<{_WIDTHS[0] - 2}}{cells[0]}  {cells[-1]}")
                continue
            numbers = "".join(f"{c:>{w}}" for c, w in zip(cells[:5], _WIDTHS[1:], strict=True))
            lines.append(f"  {row.contender:<{_WIDTHS[0] - 2}}{numbers}  {cells[5]}".rstrip())
        ratio = peer_ratio(result)
        if ratio is not None:
            lines.append(f"  {PEER} / {SUBJECT}: {ratio:.2f}x")
    extra = growth(results)
    if extra:
        lines += ["", extra]
    return "\n".join(lines)


def markdown(results: Sequence[CaseResult]) -> str:
    """Return the results as a Markdown table (for docs/benchmarks.md)."""
    lines = [
        "| case | " + " | ".join(COLUMNS) + " |",
        "|---|---|" + "---:|" * 5 + "---|",
    ]
    for result in results:
        for row in result.rows:
            cells = [c.replace("|", "\\|") for c in _cells(result, row)]
            lines.append(f"| {result.case.title} | {row.contender} | " + " | ".join(cells) + " |")
        ratio = peer_ratio(result)
        if ratio is not None:
            lines.append(f"| {result.case.title} | {PEER} / {SUBJECT} | | | | {ratio:.2f}x | | |")
    extra = growth(results)
    return "\n".join(lines) + (f"\n\n{extra}\n" if extra else "\n")


def as_json(results: Sequence[CaseResult], meta: dict[str, Any]) -> str:
    """Return every sample and statistic as JSON."""
    cases = []
    for result in results:
        rows = []
        for row in result.rows:
            rows.append(
                {
                    "contender": row.contender,
                    "status": row.status,
                    "reason": row.reason,
                    "note": row.note,
                    "samples": [dataclasses.asdict(s) for s in row.samples],
                    "stats": dataclasses.asdict(stats(result, row)),
                }
            )
        case = result.case
        cases.append(
            {
                "name": case.name,
                "title": case.title,
                "tests": case.tests,
                "kind": case.kind,
                "target": case.target,
                "verdict": verdict(result),
                "pytest_asyncio_over_awaitest": peer_ratio(result),
                "rows": rows,
            }
        )
    return json.dumps({"meta": meta, "legend": HEADER, "cases": cases}, indent=2) + "\n"


def from_json(text: str) -> tuple[list[CaseResult], dict[str, Any]]:
    """Return the results and meta data written by `as_json` (to redraw without re-running)."""
    data = json.loads(text)
    results = []
    for case in data["cases"]:
        rows = [
            Row(
                row["contender"],
                row["note"],
                row["status"],
                row["reason"],
                [Sample(**sample) for sample in row["samples"]],
            )
            for row in case["rows"]
        ]
        plan = Case(
            case["name"], case["title"], case["tests"], case["kind"], lambda _: None, case["target"]
        )
        results.append(CaseResult(plan, rows))
    meta: dict[str, Any] = data["meta"]
    return results, meta
