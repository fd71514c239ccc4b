"""Veil's catalog: the query-backed tables it serves, as plain immutable data.

A :class:`Table` is what a client sees as ``schema.table``; it remembers where it really lives
(connection, source schema and name). A :class:`CatalogSnapshot` is the set of tables one user
may see at one moment; the engine and the pg_catalog emulation work from snapshots only, so a
sync or config reload never changes a statement half-way.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import pyarrow as pa

from veil.pgfields import pinned_metadata
from veil.pgtypes import ColumnType, column_type_for_arrow

FIRST_USER_OID = 16384
_OID_SPACE = 2**31 - FIRST_USER_OID


def stable_oid(kind: str, *parts: str) -> int:
    """A deterministic OID >= 16384 for a named object, stable across restarts."""
    key = "\x1f".join((kind, *parts)).encode()
    return FIRST_USER_OID + zlib.crc32(key) % _OID_SPACE


@dataclass(frozen=True)
class Column:
    """A column as clients see it. ``source_name`` is the source's spelling when it differs from
    the served ``name`` (Snowflake's ``EMAIL`` served as ``email``, see
    :func:`veil.catalog.naming.served_column_names`); every SQL sent to the source uses it."""

    name: str
    arrow_type: pa.DataType
    nullable: bool = True
    description: str | None = None
    source_name: str | None = None
    # The type as the source declares it, where it says more than the Arrow type (a PostgreSQL
    # source's varchar(40), inet, numeric(12,2) ...), and the column's default expression.
    source_type: ColumnType | None = None
    default: str | None = None
    # The source's name for a type served as another one (an enum or composite served as text,
    # a domain as its base type): sync reports a column moved to another such type.
    declared_type: str | None = None

    @property
    def pg_type(self) -> ColumnType:
        return self.source_type or column_type_for_arrow(self.arrow_type)

    def arrow_field(self) -> pa.Field:
        """The column as an Arrow field; a source type is pinned in its metadata."""
        if self.source_type is None:
            return pa.field(self.name, self.arrow_type, self.nullable)
        metadata = pinned_metadata(self.source_type.type, self.source_type.typmod)
        return pa.field(self.name, self.arrow_type, self.nullable, metadata=metadata)

    @property
    def raw_name(self) -> str:
        """The column's name at its source."""
        return self.source_name or self.name


@dataclass(frozen=True)
class TableKey:
    """A primary key (``p``), unique constraint (``u``) or foreign key (``f``) the source
    declares, in the source's spelling of columns and tables. A foreign key names the table it
    references in the same connection; it is served only to a user who can see both tables."""

    kind: str
    name: str
    columns: tuple[str, ...]
    ref_schema: str | None = None
    ref_table: str | None = None
    ref_columns: tuple[str, ...] = ()
    on_update: str = "a"
    on_delete: str = "a"
    deferrable: bool = False
    deferred: bool = False

    def describe(self) -> str:
        """A one-line spelling for sync reports: ``PRIMARY KEY (id)``."""
        columns = ", ".join(self.columns)
        if self.kind == "p":
            return f"{self.name} PRIMARY KEY ({columns})"
        if self.kind == "u":
            return f"{self.name} UNIQUE ({columns})"
        return f"{self.name} FOREIGN KEY ({columns}) REFERENCES {self.ref_schema}.{self.ref_table}({', '.join(self.ref_columns)})"


def tags_of(tags: Mapping[str, Sequence[str]], column: Column) -> tuple[str, ...]:
    """The column's tags in a mapping keyed by column name, whichever spelling it uses: the
    served name (``email``) or the source's (``EMAIL``, as Snowflake's tags and the tag store
    name it)."""
    found = tuple(tags.get(column.name, ()))
    if column.source_name is not None:
        found += tuple(t for t in tags.get(column.source_name, ()) if t not in found)
    return found


@dataclass(frozen=True)
class Table:
    """A query-backed table: its Veil name and where it is read from."""

    connection: str
    schema: str
    name: str
    source_schema: str
    source_name: str
    columns: tuple[Column, ...]
    source_database: str | None = None
    description: str | None = None
    # Columns object sync found on an existing table and no admin has approved yet: the built-in
    # "New Column Added" policy returns NULL for them to everyone.
    new_columns: tuple[str, ...] = ()
    # Primary keys, unique constraints and foreign keys the source declares (PostgreSQL sources).
    keys: tuple[TableKey, ...] = ()

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def source_key(self) -> str:
        """``connection.schema.table`` as the config's ``tables:`` section names it."""
        return f"{self.connection}.{self.source_schema}.{self.source_name}"

    @cached_property
    def oid(self) -> int:
        return stable_oid("table", self.schema, self.name)

    @cached_property
    def row_type_oid(self) -> int:
        return stable_oid("rowtype", self.schema, self.name)

    def column(self, name: str) -> Column | None:
        for column in self.columns:
            if column.name == name:
                return column
        return None

    def find_column(self, name: str) -> Column | None:
        """The column served as ``name``, else the one the source spells ``name`` (for admins,
        whose config and commands may use either spelling)."""
        return self.column(name) or next((c for c in self.columns if c.source_name == name), None)

    def raw_name(self, name: str) -> str:
        """The source's spelling of the column served as ``name``."""
        column = self.column(name)
        return column.raw_name if column is not None else name

    @cached_property
    def renames_columns(self) -> bool:
        """Whether some column is served under another name than the source's: every read of
        the table then goes through a derived table that renames them."""
        return any(c.source_name is not None for c in self.columns)

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([c.arrow_field() for c in self.columns])


@dataclass(frozen=True)
class CatalogSnapshot:
    """The tables one user may see, keyed by (schema, table) in Veil's naming."""

    tables: tuple[Table, ...] = ()
    version: int = 0
    _index: dict[tuple[str, str], Table] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        index = {(t.schema, t.name): t for t in self.tables}
        object.__setattr__(self, "_index", index)

    def __iter__(self) -> Iterator[Table]:
        return iter(self.tables)

    def __len__(self) -> int:
        return len(self.tables)

    def lookup(self, schema: str, name: str) -> Table | None:
        return self._index.get((schema, name))

    def find(self, name: str, search_path: Iterable[str]) -> Table | None:
        """Resolve an unqualified table name along the search path."""
        for schema in search_path:
            table = self._index.get((schema, name))
            if table is not None:
                return table
        return None

    @property
    def schemas(self) -> list[str]:
        return sorted({t.schema for t in self.tables})

    def restricted_to(self, visible: Iterable[Table]) -> CatalogSnapshot:
        return CatalogSnapshot(tables=tuple(visible), version=self.version)
