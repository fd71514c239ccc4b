"""PostgreSQL sources, read through ADBC's PostgreSQL driver (results arrive as Arrow, using
PostgreSQL's binary COPY protocol, with no Python row objects in between)."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc_pg
import pyarrow as pa

from veil.catalog.model import Column
from veil.catalog.sources.base import ConvertingReader, SourceTable, check_source, drain
from veil.catalog.sources.pool import ConnectionPool, PooledCursor
from veil.config.models import ConnectionConfig
from veil.errors import VeilError
from veil.pgtypes import NUMERIC, pinned_field

_LIST_COLUMNS = """
SELECT n.nspname, c.relname, a.attname, a.attnum,
       pg_catalog.format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, c.oid::bigint
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
  AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
ORDER BY 1, 2, 4
"""

_SIMPLE_TYPES: dict[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "real": pa.float32(),
    "double precision": pa.float64(),
    "text": pa.string(),
    "bytea": pa.binary(),
    "date": pa.date32(),
    "time without time zone": pa.time64("us"),
    "timestamp without time zone": pa.timestamp("us"),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "interval": pa.month_day_nano_interval(),
    "uuid": pa.string(),
    "json": pa.string(),
    "jsonb": pa.string(),
}


def arrow_type_for(pg_type: str) -> pa.DataType:
    """The Arrow type Veil serves for a column, from ``format_type()`` output."""
    if pg_type.endswith("[]"):
        return pa.list_(arrow_type_for(pg_type[:-2]))
    if pg_type.startswith("numeric(") or pg_type.startswith("decimal("):
        precision, scale = (int(p) for p in pg_type[pg_type.index("(") + 1 : -1].split(","))
        return pa.decimal128(precision, scale) if precision <= 38 else pa.string()
    base = pg_type.split("(", 1)[0]
    if base in ("character varying", "character", "varchar", "char"):
        return pa.string()
    if base.startswith("timestamp") and "with time zone" in pg_type:
        return pa.timestamp("us", tz="UTC")
    if base.startswith("timestamp"):
        return pa.timestamp("us")
    if base.startswith("time"):
        return pa.time64("us")
    return _SIMPLE_TYPES.get(pg_type, pa.string())


def _served_field(field: pa.Field) -> pa.Field:
    """The field Veil serves for an ADBC result field. ADBC returns numerics as opaque strings;
    a numeric with a typmod becomes an exact decimal, an unconstrained one stays text that is
    described as numeric (its scale varies per value)."""
    metadata = field.metadata or {}
    pg_type = metadata.get(b"POSTGRESQL:type", b"").decode()
    if pg_type == "numeric":
        typmod = int(metadata.get(b"POSTGRESQL:typmod", b"-1"))
        if typmod >= 4:
            precision, scale = (typmod - 4) >> 16, (typmod - 4) & 0xFFFF
            if precision <= 38:
                return pa.field(field.name, pa.decimal128(precision, scale), field.nullable)
        return pinned_field(field.name, pa.string(), NUMERIC)
    if isinstance(field.type, pa.ExtensionType) and field.type.extension_name == "arrow.opaque":
        return pa.field(field.name, field.type.storage_type, field.nullable)
    if pg_type == "bpchar":  # blank-padded: a local join must compare it without the padding
        return pa.field(field.name, field.type, field.nullable, metadata={b"POSTGRESQL:type": b"bpchar"})
    return pa.field(field.name, field.type, field.nullable)


def served_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([_served_field(f) for f in schema])


def _normalize_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    columns = []
    for column, field in zip(batch.columns, schema, strict=True):
        if isinstance(column.type, pa.ExtensionType) and column.type.extension_name == "arrow.opaque":
            column = column.storage
        columns.append(column if column.type == field.type else column.cast(field.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


class _NormalizingReader(ConvertingReader):
    """Wraps ADBC's reader so batches carry the served types (decimals, not opaque strings)."""

    def __init__(self, reader: pa.RecordBatchReader) -> None:
        super().__init__(reader, served_schema(reader.schema))

    def _convert(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return _normalize_batch(batch, self.schema)


_SQLSTATE = re.compile(r"^[0-9A-Z]{5}$")
_LIBPQ_PREFIX = re.compile(r"^(?:\[libpq\] )?(?:Execution error \[PGRES_FATAL_ERROR\]: )?(?:Failed to prepare query: )?(?:FATAL|ERROR):\s+")
# What libpq reports without a SQLSTATE when the server ends the session (ADBC then gives none).
_BY_MESSAGE = (
    ("terminating connection due to administrator command", "57P01"),
    ("terminating connection due to idle", "57P05"),
    ("the database system is shutting down", "57P03"),
    ("the database system is starting up", "57P03"),
    ("canceling statement due to statement timeout", "57014"),
    ("canceling statement due to user request", "57014"),
    ("server closed the connection unexpectedly", "08006"),
    ("no connection to the server", "08003"),
    ("connection to server", "08006"),
    ("could not receive data from server", "08006"),
    ("could not send data to server", "08006"),
)


def map_postgres_error(exc: BaseException) -> VeilError:
    """The PostgreSQL error a driver error stands for: the driver's SQLSTATE when it is a valid
    code, else the one libpq's message names (a terminated backend is 57P01), else XX000."""
    message = str(exc).split("\n", 1)[0]
    for prefix in ("IO: ", "INVALID_ARGUMENT: ", "INTERNAL: ", "CANCELLED: "):
        message = message.removeprefix(prefix)
    message = _LIBPQ_PREFIX.sub("", message).strip().removesuffix(".").strip()
    message = re.sub(r"\s*\. SQLSTATE: [0-9A-Z]{5}$", "", message)
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and _SQLSTATE.match(sqlstate):
        return VeilError(sqlstate, message)
    lowered = str(exc).lower()
    for text, code in _BY_MESSAGE:
        if text in lowered:
            return VeilError(code, message)
    return VeilError("XX000", message)


class PostgresCursor(PooledCursor[_NormalizingReader]):
    """One query on a pooled connection; the connection returns to the pool only when the
    result was read to its end without error or interruption."""

    CLOSE_ERRORS = (adbc_driver_manager.Error,)

    def _open_cursor(self, connection: Any) -> Any:
        return connection.cursor()

    _unsent = False  # the last failure happened before the server started the statement

    def _broken(self, error: VeilError) -> bool:
        """A pooled connection the server had dropped before the statement reached it (restart,
        idle timeout, admin shutdown). A backend terminated while it ran the statement is the
        statement's error (57P01), not retried."""
        return self._unsent and (error.sqlstate.startswith(("08", "57P")) or "connection" in error.message.lower())

    def _run(self, sql: str, params: Sequence[object]) -> _NormalizingReader:
        try:
            self._cursor.execute(sql, parameters=tuple(params) if params else None)
            return _NormalizingReader(self._cursor.fetch_record_batch())
        except (adbc_driver_manager.Error, OSError) as exc:
            self._unsent = "Failed to prepare query" in str(exc) or "no connection to the server" in str(exc)
            raise map_postgres_error(exc) from None

    def interrupt(self) -> None:
        self._clean = False
        connection = self._connection
        if connection is None:
            return  # closed already
        try:
            connection.adbc_cancel()
        except adbc_driver_manager.Error:
            pass


class PostgresSource:
    """A PostgreSQL database; one ADBC connection per running query."""

    dialect = "postgres"

    def __init__(self, name: str, config: ConnectionConfig) -> None:
        self.name = name
        self.config = config
        self._lock = threading.Lock()
        self._pool = ConnectionPool(self._connect)

    @property
    def connection_key(self) -> tuple[object, ...]:
        c = self.config
        return ("postgres", c.host, c.port or 5432, c.sslmode, c.user, c.password, c.database)

    def _uri(self) -> str:
        c = self.config
        credentials = quote(c.user or "", safe="")
        if c.password:
            credentials += ":" + quote(c.password, safe="")
        # libpq: whole seconds, at least 2; the server ends a statement running longer than
        # statement_timeout itself (a lock wait included) with 57014
        query = {"connect_timeout": str(max(2, math.ceil(c.connect_timeout))),
                 "options": f"-c statement_timeout={math.ceil(c.statement_timeout * 1000)}"}
        if c.sslmode:
            query["sslmode"] = c.sslmode
        return f"postgresql://{credentials}@{c.host}:{c.port or 5432}/{quote(c.database or '', safe='')}?{urlencode(query, quote_via=quote)}"

    def _connect(self) -> adbc_pg.Connection:
        try:
            return adbc_pg.connect(self._uri(), autocommit=True)
        except adbc_driver_manager.Error as exc:
            message = map_postgres_error(exc).message
            raise VeilError(
                "08006", f'connection "{self.name}": cannot connect to PostgreSQL: {message}',
                hint=self._connect_hint(message),
            ) from None

    def _connect_hint(self, message: str) -> str | None:
        """What to check in the config for the usual connection failures."""
        where = f"connections.{self.name}"
        c = self.config
        if "Connection refused" in message or "could not translate host name" in message:
            return f"is PostgreSQL running and accepting TCP connections on {c.host}:{c.port or 5432}? Check {where}.host and {where}.port"
        if "password authentication failed" in message or "no password supplied" in message:
            return f"check {where}.user and {where}.password"
        if "database" in message and "does not exist" in message:
            return f"check {where}.database"
        if "role" in message and "does not exist" in message:
            return f"check {where}.user"
        return None

    def cursor(self) -> PostgresCursor:
        return PostgresCursor(self._pool)

    def describe(self, sql: str, param_count: int) -> pa.Schema:
        connection, _ = self._pool.acquire()
        reusable = False
        try:
            with connection.cursor() as cursor:
                schema = served_schema(cursor.adbc_execute_schema(sql))
            reusable = True
            return schema
        except adbc_driver_manager.Error as exc:
            raise map_postgres_error(exc) from None
        finally:
            self._pool.release(connection, reusable)

    def map_error(self, exc: BaseException) -> VeilError:
        return exc if isinstance(exc, VeilError) else map_postgres_error(exc)

    def check(self) -> None:
        check_source(self)

    def list_tables(self) -> list[SourceTable]:
        cursor = self.cursor()
        try:
            rows = drain(cursor.execute(_LIST_COLUMNS)).to_pylist()
        finally:
            cursor.close()
        tables: dict[tuple[str, str], list[Column]] = {}
        oids: dict[tuple[str, str], int] = {}
        for row in rows:
            schema, table, column, _, pg_type, nullable, oid = row.values()
            tables.setdefault((schema, table), []).append(Column(column, arrow_type_for(pg_type), bool(nullable)))
            oids[(schema, table)] = oid
        # pg_class.oid changes when a table is dropped and created again: sync reports it as recreated.
        return [
            SourceTable(self.config.database, schema, table, tuple(columns), object_id=str(oids[(schema, table)]))
            for (schema, table), columns in tables.items()
        ]

    def close(self) -> None:
        self._pool.close()

