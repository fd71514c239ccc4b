"""From stored objects to served tables: population, naming, statuses and name collisions.

These rules are shared by object sync (which reports collisions as they appear) and by catalog
loading (which skips the colliding tables), so both always agree:

* A table is a candidate when it is present at its source and inside its connection's
  ``population``.
* Its Veil name comes from the connection's ``naming`` formats. When two candidates get the same
  name, the one Veil found first keeps it and the later one is skipped (never shadowed).
* Its status is the nearest admin override (table, then schema, then connection), else the status
  sync gave it when it was found (``sync.activate_new``). Only active, non-colliding tables are
  served.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from veil.catalog.model import CatalogSnapshot, Table
from veil.catalog.naming import apply_format, served_column_names
from veil.catalog.sources.plugins import dialect_of, fingerprint
from veil.catalog.store import Status, StatusOverride, StoredTable, StoreState
from veil.config.models import (
    ConnectionConfig,
    PopulationSchemas,
    PopulationTables,
    VeilConfig,
)


def connection_identities(config: VeilConfig) -> list[tuple[str, str]]:
    return [(name, fingerprint(conn)) for name, conn in config.connections.items()]


def in_population(config: ConnectionConfig, schema: str, table: str) -> bool:
    population = config.population
    if isinstance(population, PopulationSchemas):
        return any(fnmatch.fnmatchcase(schema, s) for s in population.schemas)
    if isinstance(population, PopulationTables):
        return any(fnmatch.fnmatchcase(f"{schema}.{table}", t) for t in population.tables)
    return True


def veil_table(config: ConnectionConfig, stored: StoredTable) -> Table:
    """The table as clients see it, named by the connection's naming formats; its columns are
    named as the source's identifier folding calls for (the store keeps the source's spelling)."""
    def named(fmt: str) -> str:
        return apply_format(
            fmt, connection=stored.connection, database=stored.database, schema=stored.schema, table=stored.name
        )

    served = served_column_names([c.name for c in stored.columns], dialect_of(config) or "postgres")
    columns = tuple(
        replace(c.as_column(), name=name, source_name=None if name == c.name else c.name)
        for c, name in zip(stored.columns, served, strict=True)
    )
    return Table(
        connection=stored.connection,
        schema=named(config.naming.schema_),
        name=named(config.naming.table),
        source_schema=stored.schema,
        source_name=stored.name,
        source_database=stored.database,
        columns=columns,
        new_columns=tuple(c.name for c, s in zip(columns, stored.columns, strict=True) if s.is_new),
        description=stored.description,
        keys=stored.keys,
    )


def effective_status(table: StoredTable, overrides: Mapping[tuple[str, str, str], Status]) -> Status:
    for key in ((table.connection, table.schema, table.name), (table.connection, table.schema, ""),
                (table.connection, "", "")):
        if key in overrides:
            return overrides[key]
    return table.status


@dataclass(frozen=True)
class CatalogEntry:
    """One candidate table: its Veil name, stored state, status, and the table holding its name
    when it is skipped for a collision."""

    table: Table
    stored: StoredTable
    status: Status
    collision: str | None = None

    @property
    def served(self) -> bool:
        return self.status == "active" and self.collision is None


def assemble(
    config: VeilConfig, tables: Iterable[StoredTable], overrides: Sequence[StatusOverride] = ()
) -> list[CatalogEntry]:
    """Every candidate table of the configured connections, first found first."""
    by_key = {(o.connection, o.schema, o.table): o.status for o in overrides}
    holders: dict[tuple[str, str], str] = {}
    entries = []
    for stored in sorted(tables, key=lambda t: t.id or 0):
        connection = config.connections.get(stored.connection)
        if connection is None or not stored.present or not in_population(connection, stored.schema, stored.name):
            continue
        if dialect_of(connection) is None:
            continue  # its type is no longer installed: nothing could read the table
        table = veil_table(connection, stored)
        holder = holders.setdefault((table.schema, table.name), stored.source_key)
        collision = None if holder == stored.source_key else holder
        entries.append(CatalogEntry(table, stored, effective_status(stored, by_key), collision))
    return entries


@dataclass(frozen=True)
class LoadedCatalog:
    snapshot: CatalogSnapshot
    entries: tuple[CatalogEntry, ...]
    store_version: int


def load_catalog(config: VeilConfig, state: StoreState, version: int) -> LoadedCatalog:
    """The served catalog (snapshot ``version``) from one consistent read of the store."""
    entries = tuple(assemble(config, state.tables, state.overrides))
    snapshot = CatalogSnapshot(tuple(e.table for e in entries if e.served), version)
    return LoadedCatalog(snapshot, entries, state.version)
