"""Benchmark results: the rich table, benchmarks/results/wire.json and the wire.png bar chart."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
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

    @property
    def postgres_best(self) -> float | None:
        return min(self.postgres_seconds) if self.postgres_seconds else None

    @property
    def veil_best(self) -> float | None:
        return min(self.veil_seconds) if self.veil_seconds else None

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
    table = Table(title=f"Veil vs PostgreSQL direct — {rows:,} rows, best of {max(len(r.veil_seconds) for r in results)}")
    for column, justify in [
        ("workload", "left"), ("PostgreSQL s", "right"), ("Veil s", "right"), ("ratio", "right"),
        ("target", "right"), ("verdict", "left"),
    ]:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for result in results:
        ratio = "—" if result.ratio is None else f"{result.ratio:.2f}×"
        target = "—" if result.target_ratio is None else f"≤ {result.target_ratio:g}×"
        table.add_row(
            result.workload, _seconds(result.postgres_best), _seconds(result.veil_best), ratio, target, _verdict(result)
        )
    console.print(table)
    for result in results:
        if result.error:
            console.print(f"[red]{result.workload}[/red]: {result.error}")


def write_json(path: Path, results: list[Result], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**meta, "workloads": [result.as_json() for result in results]}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def write_chart(path: Path, results: list[Result], rows: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.workload for r in results]
    positions = range(len(results))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.38
    left.barh([p - width / 2 for p in positions], [r.postgres_best or 0 for r in results], width,
              label="PostgreSQL direct", color="#336791")
    left.barh([p + width / 2 for p in positions], [r.veil_best or 0 for r in results], width,
              label="through Veil", color="#e07b39")
    left.set_yticks(list(positions), names)
    left.invert_yaxis()
    left.set_xlabel("seconds (best run, lower is better)")
    left.legend(loc="lower right")
    left.set_title(f"Wall time, {rows:,} rows")

    ratios = [r.ratio or 0 for r in results]
    colors = ["#2e7d32" if r.meets_target in (True, None) else "#c62828" for r in results]
    right.barh(list(positions), ratios, color=colors)
    for position, result in zip(positions, results, strict=True):
        if result.target_ratio is not None:
            right.plot([result.target_ratio] * 2, [position - 0.4, position + 0.4], color="black", linestyle="--")
        if result.ratio is not None:
            right.text(result.ratio, position, f" {result.ratio:.2f}×", va="center")
    right.axvline(1.0, color="grey", linewidth=0.8)
    right.set_yticks(list(positions), [""] * len(results))
    right.invert_yaxis()
    right.set_xlabel("Veil / PostgreSQL (dashed: target)")
    right.set_title("Ratio")
    right.set_xlim(0, max([*ratios, *(r.target_ratio or 0 for r in results)]) * 1.3 or 1)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
