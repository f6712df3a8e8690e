"""The PNG chart: one panel per kind of case (overhead, seconds, peak memory, concurrency).

Grouped horizontal bars, one group per case and one bar per row (a contender, or one of its
runs). Overhead cases show the ratio of median wall times to sync (awaitest's target marked);
"seconds" cases show median wall seconds on a log scale; memory cases show peak RSS;
concurrency cases show the ratio to awaitest's sequential run on a log scale (the concurrent
run's target marked). A row without a result gets its status written where its bar would be.
matplotlib is imported only here (the `bench` extra).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bench.errors import BenchError
from bench.report import stats
from bench.runner import CaseResult
from bench.suites import Kind

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

COLOURS = {
    "sync": "#9e9e9e",
    "awaitest": "#1f77b4",
    "pytest-asyncio": "#ff7f0e",
    "anyio": "#2ca02c",
    "pytest-asyncio+looptime": "#d62728",
    "awaitest concurrent": "#17becf",
    "pytest-asyncio-cooperative": "#9467bd",
}
PANELS: dict[Kind, str] = {
    "overhead": "median wall time / sync (lower is better)",
    "seconds": "median wall seconds, log scale (lower is better)",
    "memory": "peak RSS, MiB (lower is better)",
    "concurrency": "median wall time / awaitest sequential, log scale (lower is better)",
}
#: Panels drawn on a log scale, and those marking the case's target.
LOG_SCALE: tuple[Kind, ...] = ("seconds", "concurrency")
TARGETED: tuple[Kind, ...] = ("overhead", "concurrency")


def _value(result: CaseResult, contender: str, kind: Kind) -> float | None:
    row = next((r for r in result.rows if r.contender == contender), None)
    if row is None or row.status != "ok":
        return None
    s = stats(result, row)
    ratio = s.vs_baseline
    return {"overhead": ratio, "seconds": s.median, "memory": s.rss_mb, "concurrency": ratio}[kind]


def _panel(axes: Axes, results: Sequence[CaseResult], kind: Kind) -> None:
    contenders = list(dict.fromkeys(r.contender for result in results for r in result.rows))
    height = 0.8 / max(1, len(contenders))
    seen: set[str] = set()
    for group, result in enumerate(results):
        for index, contender in enumerate(contenders):
            y = group + (index - (len(contenders) - 1) / 2) * height
            row = next((r for r in result.rows if r.contender == contender), None)
            if row is None:
                continue
            value = _value(result, contender, kind)
            colour = COLOURS.get(contender, "#8c564b")
            if value is None:
                axes.text(
                    0.01,
                    y,
                    f"{contender}: {row.status}",
                    transform=axes.get_yaxis_transform(),
                    va="center",
                    fontsize=7,
                    color=colour,
                )
                continue
            axes.barh(
                y,
                value,
                height=height * 0.9,
                color=colour,
                label=None if contender in seen else contender,
            )
            seen.add(contender)
            axes.text(value, y, f" {_label(value, kind)}", va="center", fontsize=7)
        target, subject = result.case.target, result.case.subject
        if kind in TARGETED and target is not None:
            axes.plot(
                [target, target],
                [group - 0.45, group + 0.45],
                color=COLOURS.get(subject, "#8c564b"),
                linestyle=":",
                linewidth=1.5,
                label=f"{subject} target",
            )
    if kind in TARGETED:
        axes.axvline(1.0, color="black", linewidth=0.8)
    if kind in LOG_SCALE:
        from matplotlib.ticker import FuncFormatter, NullFormatter

        axes.set_xscale("log")
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_yticks(range(len(results)), [r.case.title for r in results], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel(PANELS[kind], fontsize=8)
    axes.tick_params(axis="x", labelsize=7)
    axes.margins(x=0.15)


def _label(value: float, kind: Kind) -> str:
    if kind == "memory":
        return f"{value:.0f}"
    return f"{value:.3f}" if kind == "concurrency" and value < 0.1 else f"{value:.2f}"


def write(results: Sequence[CaseResult], path: Path, subtitle: str) -> None:
    """Draw the chart to `path` (PNG).

    Args:
        results: The measured cases.
        path: The file to write.
        subtitle: A line under the title (versions, repetitions, machine load).

    Raises:
        BenchError: matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        msg = (
            f"the chart needs matplotlib ({error}); install it with pip install -e '.[bench]', "
            "or pass --no-chart."
        )
        raise BenchError(msg) from error
    kinds = [kind for kind in PANELS if any(r.case.kind == kind and r.rows for r in results)]
    sizes = [sum(1 for r in results if r.case.kind == kind) for kind in kinds]
    lines = textwrap.wrap(subtitle, 150)
    top = 0.45 + 0.13 * len(lines)  # inches above the panels: title and subtitle
    height = top + 0.7 + sum(0.3 + 1.0 * size for size in sizes)
    figure, axes_list = plt.subplots(
        len(kinds),
        1,
        figsize=(10, height),
        squeeze=False,
        gridspec_kw={"height_ratios": sizes},
    )
    for axes, kind in zip(axes_list[:, 0], kinds, strict=True):
        _panel(axes, [r for r in results if r.case.kind == kind], kind)
    handles: dict[str, Artist] = {}
    for axes in axes_list[:, 0]:
        for handle, label in zip(*axes.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    figure.legend(
        list(handles.values()),
        list(handles),
        loc="lower center",
        fontsize=8,
        ncols=len(handles) or 1,
        frameon=False,
    )
    figure.suptitle(
        "awaitest benchmarks", x=0.01, y=1 - 0.08 / height, ha="left", va="top", fontsize=11
    )
    figure.text(0.01, 1 - 0.4 / height, "\n".join(lines), fontsize=7, ha="left", va="top")
    figure.tight_layout(rect=(0, 0.35 / height, 1, 1 - top / height))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
