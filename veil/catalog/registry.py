"""The catalog of every query-backed table across all connections."""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass, field

from veil.catalog.model import CatalogSnapshot, Table
from veil.catalog.naming import apply_format
from veil.catalog.sources.base import Source, SourceTable
from veil.catalog.sources.duckdb import DuckDBSource
from veil.config.models import ConnectionConfig, PopulationSchemas, PopulationTables, VeilConfig
from veil.errors import FeatureNotSupported, VeilError

log = logging.getLogger(__name__)


def open_source(name: str, config: ConnectionConfig) -> Source:
    if config.type == "duckdb":
        assert config.path is not None
        return DuckDBSource(name, config.path)
    if config.type == "postgres":
        from veil.catalog.sources.postgres import PostgresSource

        return PostgresSource(name, config)
    raise FeatureNotSupported(f'connection "{name}": source type {config.type} is not available yet')


def _in_population(config: ConnectionConfig, table: SourceTable) -> bool:
    population = config.population
    if isinstance(population, PopulationSchemas):
        return any(fnmatch.fnmatchcase(table.schema, s) for s in population.schemas)
    if isinstance(population, PopulationTables):
        key = f"{table.schema}.{table.name}"
        return any(fnmatch.fnmatchcase(key, t) for t in population.tables)
    return True


@dataclass(frozen=True)
class NameCollision:
    name: str
    kept: str
    skipped: str


@dataclass
class Catalog:
    """All tables Veil serves, plus the sources that hold them."""

    sources: dict[str, Source]
    snapshot: CatalogSnapshot
    collisions: list[NameCollision] = field(default_factory=list)
    errors: dict[str, VeilError] = field(default_factory=dict)

    def source_for(self, table: Table) -> Source:
        return self.sources[table.connection]


def build_catalog(config: VeilConfig, version: int = 1) -> Catalog:
    """Open every connection and crawl its tables; one failing source never hides the others."""
    sources: dict[str, Source] = {}
    tables: list[Table] = []
    seen: dict[tuple[str, str], Table] = {}
    collisions: list[NameCollision] = []
    errors: dict[str, VeilError] = {}
    for name, conn in config.connections.items():
        try:
            source = open_source(name, conn)
            found = source.list_tables()
        except VeilError as exc:
            log.error("connection %s: %s", name, exc.message)
            errors[name] = exc
            continue
        sources[name] = source
        for st in found:
            if not _in_population(conn, st):
                continue
            table = Table(
                connection=name,
                schema=apply_format(
                    conn.naming.schema_, connection=name, database=st.database, schema=st.schema, table=st.name
                ),
                name=apply_format(
                    conn.naming.table, connection=name, database=st.database, schema=st.schema, table=st.name
                ),
                source_schema=st.schema,
                source_name=st.name,
                source_database=st.database,
                columns=st.columns,
            )
            key = (table.schema, table.name)
            if key in seen:
                collision = NameCollision(table.qualified_name, seen[key].source_key, table.source_key)
                log.warning("name collision on %s: kept %s, skipped %s", *vars(collision).values())
                collisions.append(collision)
                continue
            seen[key] = table
            tables.append(table)
    return Catalog(sources, CatalogSnapshot(tuple(tables), version), collisions, errors)
