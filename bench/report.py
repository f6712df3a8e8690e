"""Presenting results: statistics per row, the plain-text table, Markdown and JSON.

Every number shown derives from `Stats`: the median and minimum of the subprocess wall times,
the median duration pytest printed, the median peak memory, and the ratio of medians against
the case's baseline row (the sync contender; awaitest sequential in the concurrency cases).
Nothing here runs anything.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Sequence
from typing import Any

from bench.runner import CaseResult, Row, Sample
from bench.suites import Case

SUBJECT = "awaitest"
HEADER = (
    "wall = pytest subprocess wall time in seconds, interpreter start included (median and min "
    "of the timed runs); pytest = the duration pytest printed (median); vs base = ratio of "
    "median wall times to the case's baseline: the sync contender's, or awaitest's sequential "
    "run in the concurrency cases; peak = the child's peak RSS in MiB (median)."
)


@dataclasses.dataclass(frozen=True)
class Stats:
    """What the table shows for one row (None where there are no samples)."""

    median: float | None
    minimum: float | None
    pytest_median: float | None
    rss_mb: float | None
    vs_baseline: float | None


def stats(result: CaseResult, row: Row) -> Stats:
    """Return the statistics of one row of a case."""
    walls = [s.wall for s in row.samples]
    reported = [s.pytest_seconds for s in row.samples if s.pytest_seconds is not None]
    median = statistics.median(walls) if walls else None
    base = _median_of(result, result.case.baseline)
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
    """Return the peer's median wall time over the subject's (> 1: the subject is faster)."""
    peer, subject = _median_of(result, result.case.peer), _median_of(result, result.case.subject)
    return peer / subject if peer is not None and subject else None


def verdict(result: CaseResult) -> str:
    """Return whether the subject met the case's target ratio ("" if it has none)."""
    target = result.case.target
    if target is None:
        return ""
    row = next((r for r in result.rows if r.contender == result.case.subject), None)
    ratio = stats(result, row).vs_baseline if row else None
    goal = f"target <= {target:.2f}x"
    if target < 1:
        goal += f" ({1 / target:g}x faster)"
    if ratio is None:
        return f"{goal}: not measured"
    return f"{goal}: {'met' if ratio <= target else 'MISSED'}"


def peer_verdict(result: CaseResult) -> str:
    """Return whether "peer / subject" met the case's peer target ("" if it has none)."""
    ratio, goal = peer_ratio(result), result.case.peer_target
    if goal is None:
        return ""
    if ratio is None:
        return f"target >= {goal:.2f}x: not measured"
    return f"target >= {goal:.2f}x: {'met' if ratio >= goal else 'MISSED'}"


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
    if row.contender == result.case.subject and verdict(result):
        note = "; ".join(filter(None, [note, verdict(result)]))
    return [
        _num(s.median, ".2f"),
        _num(s.minimum, ".2f"),
        _num(s.pytest_median, ".2f"),
        ratio(s.vs_baseline),
        _num(s.rss_mb, ".1f"),
        note,
    ]


COLUMNS = ("contender", "wall s", "min s", "pytest s", "vs base", "peak MiB", "note")
_WIDTHS = (30, 9, 8, 9, 8, 9)


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
        ratio, case = peer_ratio(result), result.case
        if ratio is not None:
            note = "; " + peer_verdict(result) if case.peer_target is not None else ""
            lines.append(f"  {case.peer} / {case.subject}: {ratio:.2f}x{note}")
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
        ratio, case = peer_ratio(result), result.case
        if ratio is not None:
            comparison = f"{case.peer} / {case.subject} | | | | {ratio:.2f}x"
            lines.append(f"| {case.title} | {comparison} | | {peer_verdict(result)} |")
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
                "baseline": case.baseline,
                "subject": case.subject,
                "peer": case.peer,
                "peer_target": case.peer_target,
                "verdict": verdict(result),
                "peer_over_subject": peer_ratio(result),
                "peer_verdict": peer_verdict(result),
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
        # Files written before the concurrency cases lack the last four keys.
        plan = Case(
            case["name"],
            case["title"],
            case["tests"],
            case["kind"],
            lambda _: None,
            case["target"],
            baseline=case.get("baseline", "sync"),
            subject=case.get("subject", SUBJECT),
            peer=case.get("peer", "pytest-asyncio"),
            peer_target=case.get("peer_target"),
        )
        results.append(CaseResult(plan, rows))
    meta: dict[str, Any] = data["meta"]
    return results, meta
