"""Where each result column comes from: RowDescription's table OID and attribute number.

PostgreSQL reports, per result column, the OID of the table and the attribute number of the
column it was read from unchanged (0 and 0 for anything computed). JDBC's getTableName /
isNullable, PDO's getColumnMeta and ODBC's SQLColAttribute read them. This module works them
out from the statement's own AST: a top-level SELECT whose projection is a plain column (or
``*``/``t.*``) of a base table named in its FROM clause. Anything else (CTEs, subqueries, set
operations, expressions) has no origin, as in PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from veil.catalog.model import CatalogSnapshot
from veil.pgcatalog.schema import RELATIONS
from veil.pgtypes import ATTNUM_METADATA_KEY, TABLE_OID_METADATA_KEY


@dataclass(frozen=True)
class Origin:
    table_oid: int
    attnum: int


@dataclass(frozen=True)
class TableColumns:
    """A base table as the origin finder sees it: its OID and column names in attnum order."""

    oid: int
    columns: tuple[str, ...]


# (schema or None, table name) -> the table, or None when it is not a base table Veil knows.
TableLookup = Callable[[str | None, str], TableColumns | None]


def column_origins(query: exp.Expr, lookup: TableLookup) -> list[Origin | None] | None:
    """One entry per output column, or None when the projections cannot be counted."""
    if not isinstance(query, exp.Select) or query.args.get("with_") is not None:
        return None
    query = normalize_identifiers(query.copy(), dialect="postgres")
    sources = _sources(query, lookup)
    origins: list[list[Origin | None]] = []
    for projection in query.expressions:
        if isinstance(projection, exp.Star):
            if any(table is None for table in sources.values()):
                return None
            origins.extend(_all_of(table) for table in sources.values() if table)
            continue
        if isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
            table = sources.get(projection.table)
            if table is None:
                return None
            origins.append(_all_of(table))
            continue
        origins.append([_origin(projection, sources)])
    return [origin for group in origins for origin in group]


def _all_of(table: TableColumns) -> list[Origin | None]:
    return [Origin(table.oid, number) for number in range(1, len(table.columns) + 1)]


def _origin(projection: exp.Expr, sources: dict[str, TableColumns | None]) -> Origin | None:
    column = projection.this if isinstance(projection, exp.Alias) else projection
    if not isinstance(column, exp.Column) or not isinstance(column.this, exp.Identifier):
        return None
    candidates = [sources.get(column.table)] if column.table else list(sources.values())
    found = [
        Origin(table.oid, table.columns.index(column.name) + 1)
        for table in candidates
        if table is not None and column.name in table.columns
    ]
    return found[0] if len(found) == 1 else None


def _sources(select: exp.Select, lookup: TableLookup) -> dict[str, TableColumns | None]:
    items: list[exp.Expr] = []
    from_ = select.args.get("from_")
    if from_ is not None:
        items.append(from_.this)
    items.extend(join.this for join in select.args.get("joins") or [])
    found: dict[str, TableColumns | None] = {}
    for item in items:
        alias = item.alias_or_name
        if isinstance(item, exp.Table) and isinstance(item.this, exp.Identifier):
            found[alias] = lookup(item.db or None, item.name)
        else:
            found[alias] = None
    return found


def with_origins(schema: pa.Schema, origins: Sequence[Origin | None] | None) -> pa.Schema:
    """The schema with each column's origin in its field metadata (read by RowDescription)."""
    if origins is None or len(origins) != len(schema):
        return schema
    fields = []
    for field, origin in zip(schema, origins, strict=True):
        if origin is not None:
            metadata = {
                **(field.metadata or {}),
                TABLE_OID_METADATA_KEY: str(origin.table_oid).encode(),
                ATTNUM_METADATA_KEY: str(origin.attnum).encode(),
            }
            field = field.with_metadata(metadata)
        fields.append(field)
    return pa.schema(fields, metadata=schema.metadata)


def without_origins(schema: pa.Schema) -> pa.Schema:
    """The schema less what :func:`with_origins` added: what encoding rows depends on."""
    fields = []
    for field in schema:
        metadata = field.metadata
        if metadata and (TABLE_OID_METADATA_KEY in metadata or ATTNUM_METADATA_KEY in metadata):
            kept = {k: v for k, v in metadata.items() if k not in (TABLE_OID_METADATA_KEY, ATTNUM_METADATA_KEY)}
            field = field.with_metadata(kept) if kept else field.remove_metadata()
        fields.append(field)
    return pa.schema(fields, metadata=schema.metadata)


def served_tables(snapshot: CatalogSnapshot, search_path: Sequence[str]) -> TableLookup:
    """The user's tables (as its snapshot names them), resolved like the planner does."""

    def lookup(schema: str | None, name: str) -> TableColumns | None:
        table = snapshot.lookup(schema, name) if schema else snapshot.find(name, search_path)
        if table is None:
            return None
        return TableColumns(table.oid, tuple(c.name for c in table.columns))

    return lookup


def catalog_tables(search_path: Sequence[str]) -> TableLookup:
    """The emulated pg_catalog / information_schema relations (pg_catalog searched first)."""

    def lookup(schema: str | None, name: str) -> TableColumns | None:
        schemas = [schema] if schema else ["pg_catalog", *search_path]
        relation = next((RELATIONS[(s, name)] for s in schemas if (s, name) in RELATIONS), None)
        if relation is None:
            return None
        return TableColumns(relation.oid, tuple(c.name for c in relation.columns))

    return lookup
