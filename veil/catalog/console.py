"""What ``veil sync``, ``veil approve`` and ``veil status`` do and print."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table as RichTable

from veil import errcodes
from veil.catalog.assemble import CatalogEntry
from veil.catalog.registry import load_from_store
from veil.catalog.sources.base import Source
from veil.catalog.store import STATUSES, CatalogStore, Status
from veil.catalog.sync import SyncResult, sync_connections
from veil.config.models import VeilConfig


def progress_bar(err: Console) -> Progress:
    """The progress bar the CLI's long commands show on ``err``: spinner, what is being done, bar,
    steps done of all, time so far; gone when done."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=err, transient=True)


def run_sync(config: VeilConfig, sources: Mapping[str, Source], names: Sequence[str], err: Console) -> list[SyncResult]:
    """Sync with a progress bar on ``err`` (one step per connection; the spinner shows the
    connection being crawled)."""
    targets = list(names) or list(config.connections)
    with progress_bar(err) as progress:
        task = progress.add_task("object sync", total=len(targets))

        def step(connection: str, phase: str) -> None:
            if phase == "crawling":
                progress.update(task, description=f"crawling {connection}")
            else:
                progress.advance(task)

        return sync_connections(config, sources, targets, "cli", step)


def changes_table(results: Sequence[SyncResult]) -> RichTable:
    table = RichTable("connection", "change", "object", "detail", title="Object sync")
    for result in results:
        if result.error is not None:
            hint = f" (hint: {result.error.hint})" if result.error.hint else ""
            table.add_row(result.connection, "[red]failed[/red]", "", f"[red]{result.error.message}{hint}[/red]")
            continue
        if not result.changes:
            table.add_row(result.connection, "[green]no changes[/green]", "", f"{result.tables} tables")
        for change in result.changes:
            table.add_row(result.connection, change.kind, change.object, change.detail)
    return table


def _entries(config: VeilConfig) -> list[CatalogEntry]:
    with CatalogStore.open(Path(config.state_dir)) as store:
        return list(load_from_store(config, store, {}, 1).entries)


def find_targets(config: VeilConfig, entries: Sequence[CatalogEntry], target: str) -> list[tuple[CatalogEntry, str | None]]:
    """What ``TABLE[.COLUMN]`` names: TABLE is ``schema.table`` (as clients see it) or
    ``connection.schema.table``. Every reading of the dots that matches is returned."""
    parts = target.split(".")
    found: list[tuple[CatalogEntry, str | None]] = []
    for entry in entries:
        table = entry.table
        readings = [(f"{table.schema}.{table.name}", 2), (table.source_key, 3)]
        for name, width in readings:
            if ".".join(parts[:width]) != name or len(parts) > width + 1:
                continue
            column = parts[width] if len(parts) == width + 1 else None
            if column is None:
                found.append((entry, None))
            elif (match := table.find_column(column)) is not None:
                found.append((entry, match.raw_name))  # the store keeps the source's spelling
    return list(dict.fromkeys(found))


def approve(config: VeilConfig, targets: Sequence[str], out: Console, err: Console) -> int:
    """Clear the ``New`` flag of each target; 1 when a target matches nothing."""
    entries = _entries(config)
    status = 0
    with CatalogStore.open(Path(config.state_dir)) as store:
        for target in targets:
            matches = find_targets(config, entries, target)
            if not matches:
                err.print(f"[red]{target}: no such table or column in the catalog[/red] (TABLE is schema.table or connection.schema.table)")
                status = 1
                continue
            if len({(e.stored.id, c) for e, c in matches}) > 1:
                names = ", ".join(e.table.source_key + (f".{c}" if c else "") for e, c in matches)
                err.print(f"[red]{target} is ambiguous:[/red] {names}")
                status = 1
                continue
            entry, column = matches[0]
            assert entry.stored.id is not None
            with store.write():
                approved = store.approve(entry.stored.id, [column] if column else None)
            if approved:
                for name in approved:
                    out.print(f"approved {entry.table.source_key}.{name}: the New tag is cleared, values are served")
            else:
                out.print(f"{target}: nothing to approve (no column tagged New)")
    return status


def parse_object(config: VeilConfig, target: str) -> tuple[str, str, str]:
    parts = target.split(".")
    if not 1 <= len(parts) <= 3 or parts[0] not in config.connections:
        raise errcodes.UndefinedObject(f"{target}: expected connection, connection.schema or connection.schema.table "
                                 f"of a configured connection ({', '.join(config.connections)})")
    connection, schema, table = (*parts, "", "")[:3]
    return connection, schema, table


def set_status(config: VeilConfig, target: str, status: str, out: Console) -> int:
    """Override an object's status (``inherit`` removes the override)."""
    connection, schema, table = parse_object(config, target)
    chosen: Status | None = next((s for s in STATUSES if s == status), None)
    with CatalogStore.open(Path(config.state_dir)) as store, store.write():
        store.set_override(connection, schema, table, chosen)
    out.print(f"{target}: {'inherits its status' if chosen is None else chosen}")
    return 0


def status_table(config: VeilConfig) -> RichTable:
    table = RichTable("table", "served as", "status", "new columns", "note", title="Catalog")
    with CatalogStore.open(Path(config.state_dir)) as store:
        overrides = [o.object + f" = {o.status}" for o in store.overrides()]
    for entry in _entries(config):
        note = f"name taken by {entry.collision}" if entry.collision else ""
        status = entry.status if entry.status == "active" else f"[yellow]{entry.status}[/yellow]"
        table.add_row(entry.table.source_key, entry.table.qualified_name, status,
                      ", ".join(entry.table.new_columns), note)
    if overrides:
        table.caption = "overrides: " + "; ".join(overrides)
    return table
