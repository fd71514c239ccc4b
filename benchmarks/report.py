"""Benchmark results: the rich table, benchmarks/results/wire.json and the wire.png bar chart."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Result:
    workload: str
    description: str
    target_ratio: float | None
    postgres_seconds: list[float]
    veil_seconds: list[float]
    results_match: bool
    error: str | None = None
    difference: str | None = None  # what each server read, when the digests differ
    #: PostgreSQL direct running the SQL Veil sends it (policies applied): see harness.compare
    floor_seconds: list[float] = field(default_factory=list)

    @property
    def postgres_best(self) -> float | None:
        return min(self.postgres_seconds) if self.postgres_seconds else None

    @property
    def veil_best(self) -> float | None:
        return min(self.veil_seconds) if self.veil_seconds else None

    @property
    def floor_best(self) -> float | None:
        return min(self.floor_seconds) if self.floor_seconds else None

    @property
    def floor_ratio(self) -> float | None:
        """The least ratio any proxy could reach: PostgreSQL's time for the SQL Veil sends it."""
        if self.postgres_best and self.floor_best:
            return self.floor_best / self.postgres_best
        return None

    @property
    def ratio(self) -> float | None:
        if self.postgres_best and self.veil_best:
            return self.veil_best / self.postgres_best
        return None

    @property
    def meets_target(self) -> bool | None:
        if self.error or not self.results_match:
            return False
        if self.target_ratio is None or self.ratio is None:
            return None
        return self.ratio <= self.target_ratio

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "postgres_best": self.postgres_best,
            "veil_best": self.veil_best,
            "ratio": self.ratio,
            "floor_best": self.floor_best,
            "floor_ratio": self.floor_ratio,
            "meets_target": self.meets_target,
        }


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _verdict(result: Result) -> str:
    if result.error:
        return "[red]error (see below)[/red]"
    if not result.results_match:
        return "[red]results differ[/red]"
    if result.meets_target is None:
        return "[dim]no target[/dim]"
    return "[green]ok[/green]" if result.meets_target else "[red]slower than target[/red]"


def print_table(results: list[Result], rows: int, console: Console) -> None:
    table = Table(
        title=f"Veil vs PostgreSQL direct — {rows:,} rows, best of {max(len(r.veil_seconds) for r in results)}"
    )
    floors = any(r.floor_seconds for r in results)
    columns = [("workload", "left"), ("PostgreSQL s", "right"), ("Veil s", "right"), ("ratio", "right")]
    if floors:
        # PostgreSQL direct running what Veil sends it: the least ratio any proxy could reach
        columns += [("floor s", "right"), ("floor ratio", "right")]
    for column, justify in [*columns, ("target", "right"), ("verdict", "left")]:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for result in results:
        ratio = "—" if result.ratio is None else f"{result.ratio:.2f}×"
        target = "—" if result.target_ratio is None else f"≤ {result.target_ratio:g}×"
        cells = [result.workload, _seconds(result.postgres_best), _seconds(result.veil_best), ratio]
        if floors:
            floor_ratio = "—" if result.floor_ratio is None else f"{result.floor_ratio:.2f}×"
            cells += [_seconds(result.floor_best), floor_ratio]
        table.add_row(*cells, target, _verdict(result))
    console.print(table)
    for result in results:
        if result.error:
            console.print(f"[red]{result.workload}[/red]: {result.error}")
        elif result.difference:
            console.print(f"[red]{result.workload}: results differ[/red]: {result.difference}")


def write_json(path: Path, results: list[Result], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**meta, "workloads": [result.as_json() for result in results]}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def write_results(path: Path, meta: dict[str, Any], results: dict[str, Any]) -> None:
    """``{"meta": meta, "results": results}`` as JSON at ``path`` (its folder made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n", encoding="utf-8")


def write_chart(path: Path, results: list[Result], rows: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    _time_panel(left, results, rows)
    _ratio_panel(right, results)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _time_panel(axes: Any, results: list[Result], rows: int) -> None:
    positions = list(range(len(results)))
    width = 0.38
    axes.barh(
        [p - width / 2 for p in positions],
        [r.postgres_best or 0 for r in results],
        width,
        label="PostgreSQL direct",
        color="#336791",
    )
    axes.barh(
        [p + width / 2 for p in positions],
        [r.veil_best or 0 for r in results],
        width,
        label="through Veil",
        color="#e07b39",
    )
    axes.set_yticks(positions, [r.workload for r in results])
    axes.invert_yaxis()
    axes.set_xlabel("seconds (best run, lower is better)")
    axes.legend(loc="lower right")
    axes.set_title(f"Wall time, {rows:,} rows")


def _ratio_panel(axes: Any, results: list[Result]) -> None:
    positions = list(range(len(results)))
    colors = ["#2e7d32" if r.meets_target in (True, None) else "#c62828" for r in results]
    axes.barh(positions, [r.ratio or 0 for r in results], color=colors)
    axes.set_xscale("log")
    known = [r.ratio for r in results if r.ratio] + [r.target_ratio for r in results if r.target_ratio]
    low, high = min([*known, 1.0]) / 2, max([*known, 1.0]) * 4
    axes.set_xlim(low, high)
    for position, result in zip(positions, results, strict=True):
        if result.target_ratio is not None:
            axes.plot([result.target_ratio] * 2, [position - 0.4, position + 0.4], color="black", linestyle="--")
        if result.ratio is None:
            axes.text(low * 1.1, position, "failed", va="center", color="#c62828")
        else:
            axes.text(result.ratio, position, f" {result.ratio:.2f}×", va="center")
    axes.axvline(1.0, color="grey", linewidth=0.8)
    axes.set_yticks(positions, [""] * len(results))
    axes.invert_yaxis()
    axes.set_xlabel("Veil / PostgreSQL, log scale (dashed: target)")
    axes.set_title("Ratio")
