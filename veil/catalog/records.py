"""What the metadata store holds, as typed records (see :mod:`veil.catalog.store`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from veil.catalog.model import Column, TableKey
from veil.pgfields import user_type
from veil.pgtypes import ColumnType, format_type

Status = Literal["active", "inactive"]
STATUSES: tuple[Status, ...] = ("active", "inactive")


@dataclass(frozen=True)
class StoredColumn:
    name: str
    arrow_type: pa.DataType
    nullable: bool = True
    is_new: bool = False
    first_seen: str = ""
    last_seen: str = ""
    source_type: ColumnType | None = None
    default: str | None = None
    description: str | None = None
    declared_type: str | None = None

    @classmethod
    def of(cls, column: Column) -> StoredColumn:
        return cls(column.name, column.arrow_type, column.nullable, source_type=column.source_type,
                   default=column.default, description=column.description, declared_type=column.declared_type)

    @property
    def type_name(self) -> str:
        """The PostgreSQL type clients see (``bigint``, ``numeric(12,2)``...)."""
        return self.as_column().pg_type.format()

    @property
    def shape(self) -> tuple[object, ...]:
        """What a change of at the source is reported and saved for."""
        return (self.name, self.arrow_type, self.source_type, self.nullable, self.default, self.description,
                self.declared_type)

    @property
    def declared_name(self) -> str:
        """The type as sync reports it: ``integer (posint)`` for a domain served as its base,
        ``mood ('sad', 'happy')`` for an enum, ``pair (a integer, b text)`` for a composite type
        (so one re-created with other labels or fields is a change)."""
        defined = user_type(self.source_type.type) if self.source_type is not None else None
        if defined is not None and defined.is_enum:
            labels = ", ".join("'" + label.replace("'", "''") + "'" for label in defined.labels)
            return f"{self.type_name} ({labels})"
        if defined is not None:
            fields = ", ".join(f"{name} {format_type(oid, typmod)}" for name, oid, typmod in defined.fields)
            return f"{self.type_name} ({fields})"
        return self.type_name if self.declared_type is None else f"{self.type_name} ({self.declared_type})"

    def as_column(self) -> Column:
        return Column(self.name, self.arrow_type, self.nullable, description=self.description,
                      source_type=self.source_type, default=self.default, declared_type=self.declared_type)


@dataclass(frozen=True)
class StoredTable:
    """One table of one connection as the store knows it. ``id`` is None until first saved."""

    connection: str
    database: str | None
    schema: str
    name: str
    columns: tuple[StoredColumn, ...]
    status: Status
    id: int | None = None
    object_id: str | None = None
    created: str | None = None
    present: bool = True
    collision: str | None = None  # the source key of the table that holds this one's Veil name
    first_seen: str = ""
    last_seen: str = ""
    dropped_at: str | None = None
    description: str | None = None  # the source's comment on the table
    keys: tuple[TableKey, ...] = ()

    @property
    def source_key(self) -> str:
        return f"{self.connection}.{self.schema}.{self.name}"

    def column(self, name: str) -> StoredColumn | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class StoredConnection:
    id: int
    name: str
    fingerprint: str
    first_seen: str
    last_attempt: str | None
    last_success: str | None
    last_error: str | None


@dataclass(frozen=True)
class StatusOverride:
    """An admin's status for a connection (``schema``/``table`` empty), a schema or a table."""

    connection: str
    schema: str
    table: str
    status: Status
    set_at: str = ""

    @property
    def object(self) -> str:
        return ".".join(p for p in (self.connection, self.schema, self.table) if p)


@dataclass(frozen=True)
class SyncChange:
    kind: str
    object: str  # connection.schema.table[.column]
    detail: str


@dataclass(frozen=True)
class SyncRun:
    id: int
    connection: str
    trigger: str
    started_at: str
    finished_at: str
    outcome: Literal["ok", "failed"]
    error: str | None
    tables: int
    changes: tuple[SyncChange, ...] = ()


@dataclass(frozen=True)
class StoreState:
    """A consistent read: the store's version and the tables of the given connections."""

    version: int
    tables: tuple[StoredTable, ...]
    overrides: tuple[StatusOverride, ...] = ()
    connections: tuple[StoredConnection, ...] = ()
