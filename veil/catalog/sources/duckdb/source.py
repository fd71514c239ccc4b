"""DuckDB files: the embedded default source, opened read-only."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from veil import errcodes
from veil.catalog.model import Column
from veil.catalog.sources.base import ConvertingReader, SourceTable, check_source
from veil.catalog.sources.duckdb.error_map import translate_duckdb_error
from veil.catalog.sources.sandbox import sandboxed_duckdb, set_zone, with_macros
from veil.errors import VeilError
from veil.pgtypes import Interval

try:  # DuckDB's own one-call "run this statement" entry point (see DuckDBCursor.execute)
    from duckdb import _seam as _duckdb_seam
except ImportError:  # pragma: no cover - other DuckDB releases: relations only
    _duckdb_seam = None  # type: ignore[assignment]  # the module's name stands for None: no seam here
_submit: Callable[..., Any] | None = getattr(_duckdb_seam, "submit", None)

BATCH_ROWS = 65536
_MAX_IDLE = 8  # idle cursors kept per source


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _served_type(arrow_type: pa.DataType) -> pa.DataType:
    """DuckDB's lossless Arrow export keeps uuid and json as extension types (so clients get the
    uuid and json OIDs) but exports HUGEINT as an opaque 16-byte value: serve that as
    numeric(38,0), whose decimal128 storage is the same little-endian 128-bit integer, and
    BOOLEAN as the ``bool8`` extension, served as a plain Arrow boolean. A ``timestamptz`` is
    exported labelled with the cursor's TimeZone (the session's): served labelled UTC, the same
    instants, so a result's type does not change with the zone."""
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz is not None and arrow_type.tz != "UTC":
        return pa.timestamp(arrow_type.unit, tz="UTC")
    if isinstance(arrow_type, pa.BaseExtensionType) and arrow_type.extension_name == "arrow.bool8":
        return pa.bool_()
    if isinstance(arrow_type, pa.BaseExtensionType) and arrow_type.extension_name == "arrow.opaque":
        storage = arrow_type.storage_type
        if pa.types.is_fixed_size_binary(storage) and storage.byte_width == 16:
            return pa.decimal128(38, 0)
        return storage
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return pa.list_(_served_type(arrow_type.value_type))
    if pa.types.is_struct(arrow_type):
        return pa.struct([pa.field(f.name, _served_type(f.type), f.nullable) for f in arrow_type])
    return arrow_type


def served_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, _served_type(f.type), f.nullable) for f in schema])


def _served_column(column: pa.Array, target: pa.DataType) -> pa.Array:
    if column.type == target:
        return column
    storage = column.storage if isinstance(column, pa.ExtensionArray) else column
    if pa.types.is_decimal(target) and pa.types.is_fixed_size_binary(storage.type):
        return pa.Array.from_buffers(target, len(storage), storage.buffers(), storage.null_count, storage.offset)
    return storage.cast(target)


class _ServedReader(ConvertingReader):
    def __init__(self, reader: pa.RecordBatchReader) -> None:
        schema, self._changed = _serving(reader.schema)
        super().__init__(reader, schema)

    def _convert(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not self._changed:
            return batch
        for i in self._changed:
            field = self.schema.field(i)
            batch = batch.set_column(i, field, _served_column(batch.column(i), field.type))
        return batch.replace_schema_metadata(None) if batch.schema.metadata else batch


_SERVING_CACHE = 32
# Replaced, never mutated, so readers in other threads iterate a consistent tuple.
_serving_cache: tuple[tuple[pa.Schema, pa.Schema, tuple[int, ...]], ...] = ()
_serving_lock = threading.Lock()


def _serving(schema: pa.Schema) -> tuple[pa.Schema, tuple[int, ...]]:
    """The served schema of a result schema and the columns whose type changes (a point query
    asks this for every result, so recent answers are kept: comparing schemas is cheap)."""
    global _serving_cache
    for source, served, convert in _serving_cache:
        if source.equals(schema, check_metadata=True):
            return served, convert
    served = served_schema(schema)
    convert = tuple(i for i, (f, s) in enumerate(zip(schema, served, strict=True)) if f.type != s.type)
    with _serving_lock:
        _serving_cache = ((schema, served, convert), *_serving_cache[: _SERVING_CACHE - 1])
    return served, convert


def _run(connection: duckdb.DuckDBPyConnection, sql: str, values: list[object] | None) -> _ServedReader:
    if _submit is not None:
        return _ServedReader(_submit(connection, sql, values, "stream", BATCH_ROWS).arrow_reader())
    relation = connection.sql(sql, params=values)
    if relation is None:
        return _ServedReader(pa.RecordBatchReader.from_batches(pa.schema([]), []))
    return _ServedReader(relation.to_arrow_reader(BATCH_ROWS))


class DuckDBCursor:
    """One query at a time on its own DuckDB connection (a cursor of the source's database).

    ``release``, when given, takes the connection back for reuse once the cursor is closed,
    which it is only offered when the last result was read to the end and nothing was
    interrupted: DuckDB refuses a new query on a connection whose result is still open.
    """

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        release: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    ) -> None:
        self._connection: duckdb.DuckDBPyConnection | None = connection
        self._release = release
        # Weak: a reader dropped unread destroys its DuckDB result, which frees the connection too.
        self._reader: weakref.ref[_ServedReader] | None = None
        self._reusable = True
        self._lock = threading.Lock()

    def execute(self, sql: str, params: Sequence[object] = ()) -> _ServedReader:
        """Run one statement (Veil only sends single SELECTs) and stream its rows as Arrow.

        ``connection.sql`` builds a lazy relation first: it parses and binds the statement in
        Python-facing layers, then the engine parses, binds and plans it again to run it (about
        two thirds of a point query's time in DuckDB). Where the DuckDB release has it, its
        single submit call does only the second half, with the same errors and Arrow output.
        """
        connection = self._connection
        if connection is None:
            raise errcodes.InternalError("internal error: query on a closed DuckDB cursor")
        self._reusable = False  # until the new result is read to the end
        # an interval with months (veil.pgtypes.Interval) as its text: DuckDB binds no such object
        values = [p.text() if isinstance(p, Interval) else p for p in params] if params else None
        reader = with_macros(connection, lambda: _run(connection, sql, values))
        self._reader, self._reusable = weakref.ref(reader), True
        return reader

    def interrupt(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._reusable = False
                self._connection.interrupt()

    def close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
            if connection is None:
                return
            reader = self._reader() if self._reader is not None else None
            done = self._reusable and (reader is None or reader.exhausted)
        if done and self._release is not None:
            self._release(connection)
        else:
            connection.close()


class DuckDBSource:
    """A DuckDB database file, read-only; each query runs on its own cursor (thread-safe)."""

    dialect = "duckdb"

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = Path(path)
        self._lock = threading.Lock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        # Idle cursors of ``_connection``, reused by the next queries: opening and closing a
        # DuckDB cursor per statement was a measurable part of a point query.
        # Per TimeZone the cursors are in (idle cursors in a zone no session uses any more are
        # at most _MAX_IDLE per zone, as before per source).
        self._idle: dict[str, list[duckdb.DuckDBPyConnection]] = {}

    @cached_property
    def connection_key(self) -> tuple[object, ...]:
        return ("duckdb", str(self.path.resolve()))

    def _connect(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._connection is None:
                if not self.path.exists():
                    raise errcodes.ConnectionFailure(
                        f'connection "{self.name}": DuckDB file {self.path} does not exist'
                    )
                try:
                    self._connection = sandboxed_duckdb(
                        str(self.path),
                        read_only=True,
                        zoned_cursors=True,
                        # ieee_floating_point_ops off: division by zero raises as in PostgreSQL (not inf)
                        config={"arrow_lossless_conversion": True, "ieee_floating_point_ops": False},
                    )
                except duckdb.Error as exc:
                    raise errcodes.ConnectionFailure(
                        f'connection "{self.name}": cannot open {self.path}: {exc}'
                    ) from None
            return self._connection

    def cursor(self) -> DuckDBCursor:
        return self.zoned_cursor("UTC")

    def zoned_cursor(self, timezone: str) -> DuckDBCursor:
        """A cursor computing ``timestamptz`` in ``timezone`` (a session's TimeZone): an idle one
        already in it if any, else one given it (a cursor of the database starts in UTC)."""
        with self._lock:
            idle = self._idle.get(timezone)
            cursor = idle.pop() if idle else None
            database = self._connection
        if cursor is None:
            database = self._connect()
            cursor = set_zone(database.cursor(), timezone)
        return DuckDBCursor(cursor, self._reuse(database, timezone))

    def _reuse(
        self, database: duckdb.DuckDBPyConnection | None, timezone: str
    ) -> Callable[[duckdb.DuckDBPyConnection], None]:
        """A release callback for cursors of ``database`` in ``timezone``: kept while it is still the open one."""

        def release(cursor: duckdb.DuckDBPyConnection) -> None:
            with self._lock:
                idle = self._idle.setdefault(timezone, [])
                if database is not None and database is self._connection and len(idle) < _MAX_IDLE:
                    idle.append(cursor)
                    return
            cursor.close()

        return release

    def check(self) -> None:
        check_source(self)

    def describe(self, sql: str, param_count: int) -> pa.Schema:
        cursor = self.cursor()
        try:
            reader = cursor.execute(f"SELECT * FROM ({sql}) AS veil_describe LIMIT 0", [None] * param_count)
            return reader.schema
        except duckdb.Error as exc:
            raise map_duckdb_error(exc) from None
        finally:
            cursor.close()

    def map_error(self, exc: BaseException) -> VeilError:
        return map_duckdb_error(exc)

    def list_tables(self) -> list[SourceTable]:
        connection = self._connect().cursor()
        try:
            rows = connection.execute(
                "SELECT table_catalog, table_schema, table_name FROM information_schema.tables "
                "WHERE table_catalog = current_database() "
                "ORDER BY table_schema, table_name"
            ).fetchall()
            tables = []
            for database, schema, name in rows:
                arrow_schema = served_schema(
                    connection.sql(f"SELECT * FROM {_quote(schema)}.{_quote(name)} LIMIT 0")
                    .to_arrow_table()
                    .schema
                )
                columns = tuple(Column(f.name, f.type, f.nullable) for f in arrow_schema)
                tables.append(SourceTable(database, schema, name, columns))
            return tables
        finally:
            connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
            for cursor in (cursor for cursors in idle.values() for cursor in cursors):
                cursor.close()
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def map_duckdb_error(exc: BaseException) -> VeilError:
    """Translate a DuckDB exception into the PostgreSQL error a client expects."""
    return translate_duckdb_error(exc)
