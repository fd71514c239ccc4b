"""``veil discover`` and ``veil tags``: progress, summary tables and tag rejection."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table as RichTable

from veil import errcodes
from veil.catalog.console import progress_bar
from veil.catalog.model import CatalogSnapshot
from veil.catalog.registry import Catalog
from veil.config.models import VeilConfig
from veil.discovery.classifiers import TAG_ROOT
from veil.discovery.run import (
    DiscoverySettings,
    TableDiscovery,
    run_discovery,
    select_tables,
)
from veil.state.tagstore import ORIGIN_CONFIG, ORIGIN_DISCOVERY, TagStore


@dataclass(frozen=True)
class ColumnTarget:
    table_key: str  # connection.schema.table
    column: str  # as the source spells it (the tag store's key)
    served: str = ""  # as clients see it


def resolve_column(snapshot: CatalogSnapshot, target: str) -> ColumnTarget:
    """``schema.table.column`` (Veil name) or ``connection.schema.table.column``."""
    table_part, _, column = target.rpartition(".")
    if not table_part or not column:
        raise errcodes.SyntaxError(f"expected TABLE.COLUMN (schema.table.column), got {target!r}")
    for table in snapshot:
        if table_part in (table.qualified_name, table.source_key):
            found = table.find_column(column)
            if found is None:
                raise errcodes.UndefinedColumn(f'column "{column}" of {table.qualified_name} does not exist')
            return ColumnTarget(table.source_key, found.raw_name, found.name)
    raise errcodes.UndefinedTable(f"no table {table_part} in the catalog")


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _change(result: TableDiscovery, column: str) -> str:
    for change in result.changes:
        if change.column != column:
            continue
        if change.rejected and not (change.added or change.kept):
            return "[yellow]rejected earlier[/yellow]"
        if change.in_config and not (change.added or change.kept):
            return "set in config"
        if change.added:
            return "[green]new[/green]"
        return "unchanged"
    return "dry run"


def _short(tags: Sequence[str]) -> str:
    return ", ".join(t.removeprefix(f"{TAG_ROOT}.") for t in tags)


def _table(title: str, *headers: str) -> RichTable:
    table = RichTable(title=title)
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def summary_table(results: Sequence[TableDiscovery]) -> RichTable:
    """One row per tagged column: entity tag, category tags, hit rate, sampled values, status."""
    table = _table("Discovered tags", "table", "column", "tag", "categories", "hit rate", "values", "status")
    for result in results:
        for column in result.tagged:
            assert column.winner is not None
            table.add_row(
                result.table.qualified_name, column.column, column.winner.classifier.tag,
                _short(column.winner.classifier.categories), _rate(column.winner.hit_rate),
                str(column.values), _change(result, column.column),
            )
        for change in result.changes:
            if change.removed:
                table.add_row(
                    result.table.qualified_name, change.column, _short(change.removed), "", "", "",
                    "[red]no longer found[/red]",
                )
    return table


def run_discover(
    config: VeilConfig,
    catalog: Catalog,
    patterns: Sequence[str],
    settings: DiscoverySettings,
    dry_run: bool,
    out: Console,
    err: Console,
) -> int:
    """The ``veil discover`` command; returns the exit status."""
    tables = select_tables(catalog.snapshot, patterns)
    if patterns and not tables:
        err.print(f"[red]no table matches {' '.join(patterns)}[/red]")
        return 1
    store = None if dry_run else TagStore.open(config.state_dir)
    started = time.perf_counter()
    try:
        with progress_bar(err) as progress:
            task = progress.add_task("Discovering", total=len(tables))

            def advance(result: TableDiscovery) -> None:
                progress.update(task, advance=1, description=f"Sampled {result.table.qualified_name}")

            results = run_discovery(catalog, config, tables, settings, store, advance)
    finally:
        if store is not None:
            store.close()
    elapsed = time.perf_counter() - started
    out.print(summary_table(results))
    failed = [r for r in results if r.error is not None]
    for result in failed:
        assert result.error is not None
        err.print(f"[red]{result.table.qualified_name}: {result.error.message}[/red]")
    columns = sum(len(r.columns) for r in results)
    tagged = sum(len(r.tagged) for r in results)
    rows = sum(r.rows_sampled for r in results)
    err.print(
        f"Scanned {len(results)} tables, {columns} columns ({rows} sampled rows) in {elapsed:.2f}s: "
        f"{tagged} columns tagged (threshold {settings.threshold:.0%})"
        + (" — dry run, nothing stored" if dry_run else "")
    )
    return 1 if failed else 0


def tags_table(config: VeilConfig, store: TagStore, snapshot: CatalogSnapshot, patterns: Sequence[str]) -> RichTable:
    """Every tag per column with its origin: config, discovery, or rejected."""
    table = _table("Column tags", "table", "column", "tag", "origin", "hit rate")
    for t in select_tables(snapshot, patterns):
        rows: list[tuple[str, str, str, str]] = []
        configured = config.tables.get(t.source_key)
        for column, tags in (configured.tags if configured else {}).items():
            rows += [(column, tag, ORIGIN_CONFIG, "") for tag in tags]
        rows += [
            (s.column, s.tag, ORIGIN_DISCOVERY, _rate(s.hit_rate))
            for s in store.tags(t.source_key, ORIGIN_DISCOVERY)
        ]
        rows += [(r.column, r.tag, "[yellow]rejected[/yellow]", "") for r in store.rejections(t.source_key)]
        order = {**{c.name: i for i, c in enumerate(t.columns)}, **{c.raw_name: i for i, c in enumerate(t.columns)}}
        for column, tag, origin, rate in sorted(rows, key=lambda r: (order.get(r[0], len(order)), r[2], r[1])):
            table.add_row(t.qualified_name, column, tag, origin, rate)
    return table


def reject_tag(config: VeilConfig, snapshot: CatalogSnapshot, target: str, tag: str, err: Console) -> int:
    column = resolve_column(snapshot, target)
    configured = config.tables.get(column.table_key)
    if configured and any(tag in configured.tags.get(n, ()) for n in (column.column, column.served)):
        err.print(f"[red]{tag} on {target} is set in the config; remove it from tables.{column.table_key}.tags[/red]")
        return 1
    with TagStore.open(config.state_dir) as store:
        had = store.reject(column.table_key, column.column, tag)
    err.print(f"Rejected {tag} on {target}" + ("" if had else " (it was not discovered there yet)")
              + "; discovery will not tag it again")
    return 0


def unreject_tag(config: VeilConfig, snapshot: CatalogSnapshot, target: str, tag: str, err: Console) -> int:
    column = resolve_column(snapshot, target)
    with TagStore.open(config.state_dir) as store:
        had = store.unreject(column.table_key, column.column, tag)
    if not had:
        err.print(f"[yellow]{tag} was not rejected on {target}[/yellow]")
        return 1
    err.print(f"{tag} on {target} may be discovered again (run `veil discover`)")
    return 0
