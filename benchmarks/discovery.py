"""Sensitive data discovery: precision and recall per classifier on the generated labelled set,
and the time to discover a million-row DuckDB table (it samples, so it takes seconds).

    .venv/bin/python -m benchmarks.discovery [--rows 1000000] [--seeds 5]

Column-level scores count one decision per column (tagged with the right entity, a wrong one, or
none); decoys (order numbers failing Luhn, broken IBANs and SSNs, SKUs, free text, timestamps ...)
are in the set, so a tagged decoy costs precision. Value-level scores show how well each validator
separates valid from invalid values in mixed columns.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
from rich.console import Console
from rich.table import Table as RichTable

from veil.catalog.registry import build_catalog
from veil.config import parse_config
from veil.discovery.classifiers import BUILTIN_CLASSIFIERS
from veil.discovery.classify import classify_column, value_hits
from veil.discovery.labelled import (
    LabelledColumn,
    Score,
    labelled_columns,
    score_columns,
    score_values,
)
from veil.discovery.run import DiscoverySettings, discover_table
from veil.state.tagstore import TagStore

RESULTS = Path(__file__).parent / "results"
BY_ENTITY = {c.entity: c for c in BUILTIN_CLASSIFIERS}


def accuracy(seeds: int, rows: int) -> tuple[dict[str, Score], dict[str, Score], list[str]]:
    """Column-level scores per classifier, value-level scores per validator, tagged decoys."""
    expected: list[str | None] = []
    found: list[str | None] = []
    value_scores: dict[str, Score] = {}
    tagged_decoys = []
    for seed in range(seeds):
        for column in labelled_columns(n=rows, seed=seed):
            result = classify_column(column.table, column.name, column.values.type, column.values)
            winner = result.winner.entity if result.winner else None
            expected.append(column.entity)
            found.append(winner)
            if column.entity is None and winner is not None:
                tagged_decoys.append(f"{column.name} → {winner} (seed {seed})")
            if column.truth is not None and column.truth_entity is not None:
                hits = value_hits(BY_ENTITY[column.truth_entity], column.table, column.name, column.values.type, column.values)
                score = score_values(column.truth_entity, column.truth, hits)
                previous = value_scores.get(column.truth_entity, Score(column.truth_entity, 0, 0, 0))
                value_scores[column.truth_entity] = Score(
                    column.truth_entity, previous.true_positives + score.true_positives,
                    previous.false_positives + score.false_positives, previous.false_negatives + score.false_negatives,
                )
    columns = score_columns(expected, found, [c.entity for c in BUILTIN_CLASSIFIERS])
    return columns, value_scores, tagged_decoys


def build_table(path: Path, columns: list[LabelledColumn]) -> None:
    data = pa.table({c.name: c.values for c in columns})
    connection = duckdb.connect(str(path))
    connection.register("labelled", data)
    connection.execute("CREATE SCHEMA records")
    connection.execute("CREATE TABLE records.labelled AS SELECT * FROM labelled")
    connection.close()


def timing(rows: int, directory: Path) -> dict[str, object]:
    started = time.perf_counter()
    columns = [c for c in labelled_columns(n=rows, seed=1) if c.table == "records"]  # one table's columns
    path = directory / "warehouse.duckdb"
    build_table(path, columns)
    setup = time.perf_counter() - started
    config = parse_config({"state_dir": str(directory / "state"), "connections": {"w": {"type": "duckdb", "path": str(path)}}})
    catalog = build_catalog(config)
    table = next(iter(catalog.snapshot))
    with TagStore.open(config.state_dir) as store:
        result = discover_table(catalog, config, table, DiscoverySettings(), store)
    catalog.sources["w"].close()
    expected = {c.name: c.entity for c in columns}
    wrong = [
        f"{c.column}: expected {expected[c.column]}, found {c.winner.entity if c.winner else None}"
        for c in result.columns
        if expected[c.column] != (c.winner.entity if c.winner else None)
    ]
    return {
        "rows": rows, "columns": len(table.columns), "setup_seconds": round(setup, 2),
        "discovery_seconds": round(result.seconds, 3), "sample_query_seconds": round(result.sample_seconds, 3),
        "classify_seconds": round(result.seconds - result.sample_seconds, 3), "sampled_rows": result.rows_sampled,
        "sample_method": result.plan.method if result.plan else None, "columns_tagged": len(result.tagged),
        "mismatches": wrong,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the timed DuckDB table")
    parser.add_argument("--seeds", type=int, default=5, help="labelled sets scored (each a fresh seed)")
    parser.add_argument("--sample", type=int, default=3000, help="values per labelled column")
    args = parser.parse_args()
    console = Console(width=150)

    columns, values, decoys = accuracy(args.seeds, args.sample)
    table = RichTable(title=f"Precision and recall per classifier ({args.seeds} labelled sets)")
    for header in ("classifier", "columns", "TP", "FP", "FN", "precision", "recall", "value precision", "value recall"):
        table.add_column(header)
    for entity, score in columns.items():
        value = values.get(entity)
        table.add_row(
            entity, str(score.true_positives + score.false_negatives), str(score.true_positives),
            str(score.false_positives), str(score.false_negatives), f"{score.precision:.3f}", f"{score.recall:.3f}",
            f"{value.precision:.4f}" if value else "", f"{value.recall:.4f}" if value else "",
        )
    console.print(table)
    console.print(f"Decoy columns tagged: {len(decoys)}" + ("" if not decoys else ": " + ", ".join(decoys)))

    with tempfile.TemporaryDirectory() as directory:
        timed = timing(args.rows, Path(directory))
    console.print(
        f"Discovery of a {timed['rows']:,}-row DuckDB table with {timed['columns']} columns: "
        f"{timed['discovery_seconds']}s ({timed['sample_query_seconds']}s sample query, "
        f"{timed['sample_method']}, {timed['sampled_rows']} rows; {timed['classify_seconds']}s classification); "
        f"{timed['columns_tagged']} columns tagged, {len(timed['mismatches'])} mismatches "
        f"(setup {timed['setup_seconds']}s)"
    )
    for mismatch in timed["mismatches"]:
        console.print(f"  [red]{mismatch}[/red]")

    RESULTS.mkdir(exist_ok=True)
    report = {
        "classifiers": {
            entity: {
                "columns": s.true_positives + s.false_negatives, "precision": s.precision, "recall": s.recall,
                **({"value_precision": values[entity].precision, "value_recall": values[entity].recall} if entity in values else {}),
            }
            for entity, s in columns.items()
        },
        "tagged_decoys": decoys,
        "timing": timed,
    }
    (RESULTS / "discovery.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
