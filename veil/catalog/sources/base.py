"""The one small interface every source system implements, and what a source *type* declares.

A source lists its tables (with Arrow column types), runs SQL in its own dialect and streams the
result as Arrow record batches, and names the *connection key* that decides whether two tables can
be joined remotely (same key) or must be joined locally.

A source type is a :class:`SourcePlugin` (registered in :mod:`veil.catalog.sources.plugins`):
the keys its connections take, how it opens one, where a connection points (its fingerprint),
its SQL dialect and how that dialect spells what masks and naming need.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, Protocol, TypeVar, cast

import pyarrow as pa
from pydantic import BaseModel, ConfigDict
from sqlglot import exp

from veil.catalog.model import Column, TableKey
from veil.config.models import ConnectionConfig
from veil.errors import VeilError


@dataclass(frozen=True)
class SourceTable:
    """A table as the source names it.

    ``object_id`` and ``created`` identify one incarnation of the table where the source exposes
    them (PostgreSQL's ``pg_class.oid``): object sync reports a table whose id changed as
    recreated even when its columns are the same. ``None`` where the source has no stable id."""

    database: str | None
    schema: str
    name: str
    columns: tuple[Column, ...]
    object_id: str | None = None
    created: str | None = None
    description: str | None = None
    keys: tuple[TableKey, ...] = ()


@dataclass(frozen=True)
class SourceTag:
    """A tag the source system itself keeps on a column or a table (Snowflake's object tags,
    say), in Veil's spelling (``PII.Email``). ``column`` is None for a tag on the table itself,
    which policies match like the config's ``table_tags``."""

    schema: str
    table: str
    column: str | None
    tag: str


class SourceCursor(Protocol):
    """One running query; ``interrupt`` may be called from another thread."""

    def execute(self, sql: str, params: Sequence[object] = ()) -> BatchReader: ...

    def interrupt(self) -> None: ...

    def close(self) -> None: ...


class Source(Protocol):
    name: str
    dialect: str

    @property
    def connection_key(self) -> tuple[object, ...]: ...

    def list_tables(self) -> list[SourceTable]: ...

    def cursor(self) -> SourceCursor: ...

    def describe(self, sql: str, param_count: int) -> pa.Schema:
        """The result schema of ``sql`` (placeholders ``$1..$n``), without reading its rows."""
        ...

    def map_error(self, exc: BaseException) -> VeilError:
        """The PostgreSQL error for a driver exception."""
        ...

    def check(self) -> None:
        """Raise a :class:`veil.errors.VeilError` with an actionable message if unreachable."""
        ...

    def close(self) -> None: ...


class TaggedSource(Protocol):
    """A source that can report the column and table tags kept in the source system (optional:
    sources without tags simply lack ``list_tags``)."""

    def list_tags(self) -> list[SourceTag]: ...


def source_tags(source: Source) -> list[SourceTag] | None:
    """The source system's column and table tags; None when this source type keeps none."""
    list_tags = getattr(source, "list_tags", None)
    return None if list_tags is None else list(list_tags())


class ZonedSource(Protocol):
    """A source that computes ``timestamptz`` in a zone its caller gives (optional: DuckDB
    computes in the session's TimeZone, as PostgreSQL does; other sources lack ``zoned_cursor``)."""

    def zoned_cursor(self, timezone: str) -> SourceCursor: ...


def session_cursor(source: Source, timezone: str) -> SourceCursor:
    """A cursor on ``source`` for a session in ``timezone`` (its TimeZone setting)."""
    zoned = getattr(source, "zoned_cursor", None)
    return source.cursor() if zoned is None else cast(SourceCursor, zoned(timezone))


def result_key(source: Source, timezone: str) -> Hashable:
    """What a cached result of ``source`` is keyed by besides its SQL and parameters: the
    connection, and the session's TimeZone where the source computed in it (a result may
    depend on it: ``ts::text``, ``date_trunc``, ``ts::date``), so no zone is served another's."""
    if getattr(source, "zoned_cursor", None) is None:
        return source.connection_key
    return (source.connection_key, timezone)


class ConvertingReader:
    """A driver's Arrow reader whose batches become the served schema (``_convert``), and which
    knows when it was read to the end (``exhausted``: the driver's connection then holds no open
    result and may run another query)."""

    def __init__(self, reader: pa.RecordBatchReader, schema: pa.Schema) -> None:
        self._reader = reader
        self.schema = schema
        self.exhausted = False

    def read_next_batch(self) -> pa.RecordBatch:
        try:
            batch = self._reader.read_next_batch()
        except StopIteration:
            self.exhausted = True
            raise
        return self._convert(batch)

    def _convert(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return batch


class BatchReader(Protocol):
    """What ``SourceCursor.execute`` returns: Arrow batches, one at a time."""

    schema: pa.Schema

    def read_next_batch(self) -> pa.RecordBatch: ...


def drain(reader: BatchReader) -> pa.Table:
    """Every remaining batch of ``reader``, as one table (for results known to be small)."""
    batches = []
    while True:
        try:
            batches.append(reader.read_next_batch())
        except StopIteration:
            return pa.Table.from_batches(batches, schema=reader.schema)


def read_all(source: Source, sql: str, params: Sequence[object] = ()) -> pa.Table:
    """Run ``sql`` on a cursor of its own and read the whole (small) result."""
    cursor = source.cursor()
    try:
        return drain(cursor.execute(sql, params))
    finally:
        cursor.close()


def check_source(source: Source) -> None:
    """Run ``SELECT 1`` on a source (the "Test Connection" of ``veil check``)."""
    cursor = source.cursor()
    try:
        cursor.execute("SELECT 1").read_next_batch()
    finally:
        cursor.close()


class SourceSettings(BaseModel):
    """The keys a source type adds to its connections (``host``, ``path``...), beside the ones
    every connection has (``type``, ``population``, ``naming``, ``latency``, ``sync`` and the
    timeouts). Unknown keys are errors: a typo must not silently change where Veil connects."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Settings = TypeVar("Settings", bound=SourceSettings)


class SourcePlugin(ABC, Generic[Settings]):
    """One source type: ``connections.<name>.type: <name>`` in ``veil.yaml``."""

    #: The value of ``type`` that selects this source type.
    name: ClassVar[str]
    #: The sqlglot dialect its SQL is written in.
    dialect: ClassVar[str]
    #: The keys its connections take, validated after the keys every connection has.
    settings_model: ClassVar[type[SourceSettings]]
    #: Whether a table is named ``catalog.schema.table`` (the connection key then spans the
    #: source's databases, so one statement may read tables of several connections) rather than
    #: ``schema.table``.
    three_part_names: ClassVar[bool] = False
    #: Whether ``regexp_replace`` replaces every match by itself (else it is given the ``'g'`` flag).
    regex_replaces_all: ClassVar[bool] = False

    def settings(self, connection: ConnectionConfig) -> Settings:
        """The connection's own keys, validated (raises pydantic's ``ValidationError``)."""
        return cast(Settings, self.settings_model.model_validate(connection.options))

    @abstractmethod
    def open(self, name: str, connection: ConnectionConfig, settings: Settings) -> Source:
        """The source for connection ``name`` (cheap: no round trip until it is used)."""

    @abstractmethod
    def fingerprint(self, settings: Settings) -> str:
        """Where the connection points, without secrets: its identity in the metadata store, so a
        connection renamed or repointed is not confused with the one it was."""

    def sha256_hex(self, text: exp.Expr) -> exp.Expr:
        """The lower-case hex SHA-256 of ``text`` (UTF-8) in this dialect (keyed hash masks). This
        default is DuckDB's ``sha256``, already lower-case hex (each node costs planning time)."""
        return exp.Anonymous(this="sha256", expressions=[text])
