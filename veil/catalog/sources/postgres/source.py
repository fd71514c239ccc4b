"""PostgreSQL sources, read through ADBC's PostgreSQL driver (results arrive as Arrow, using
PostgreSQL's binary COPY protocol, with no Python row objects in between)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import math
import re
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import time
from typing import Any
from urllib.parse import quote, urlencode

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc_pg
import psycopg
import pyarrow as pa
from psycopg import pq
from psycopg.pq.abc import PGconn, PGresult

from veil import errcodes
from veil.catalog.model import Column
from veil.catalog.sources.base import ConvertingReader, SourceTable, check_source, drain
from veil.catalog.sources.pool import ConnectionPool, PooledCursor
from veil.catalog.sources.postgres import wire as pgwire
from veil.catalog.sources.postgres.error_map import map_postgres_error, server_text
from veil.catalog.sources.postgres.passthrough import (
    OUTPUT_OPTIONS,
    PassthroughCursor,
    PassthroughPool,
    SessionSettings,
)
from veil.catalog.sources.postgres.settings import PostgresSettings
from veil.catalog.sources.postgres.shape import (
    LIST_USER_TYPES,
    SourceColumn,
    conform_batch,
    register_user_types,
    served_field,
    served_schema,
    text_wrapped,
    typed_parameters,
)
from veil.catalog.sources.postgres.table_keys import LIST_KEYS, keys_by_table
from veil.config.models import ConnectionConfig
from veil.errors import VeilError
from veil.pgfields import TYPE_GENERATION, column_type_for_field
from veil.pgtypes import Interval, quoted_element

_CONNECT_TIMEOUT = 10
_DESCRIBE_TIMEOUT_MS = 30_000
_PASSABLE_SIZE = 512

_LIST_COLUMNS = """
SELECT n.nspname, c.relname, a.attname, a.attnum,
       (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END)::bigint AS type_oid,
       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS typmod,
       NOT a.attnotnull AS nullable, c.oid::bigint AS table_oid,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS column_default,
       pg_catalog.col_description(c.oid, a.attnum) AS column_comment,
       pg_catalog.obj_description(c.oid, 'pg_class') AS table_comment,
       CASE WHEN t.typtype IN ('d', 'e', 'c') THEN pg_catalog.format_type(a.atttypid, a.atttypmod) END
           AS declared_type
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
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
    """An Arrow type for a type name as ``format_type()`` prints it (Databricks' catalog uses
    it too); PostgreSQL sources map type OIDs instead (:mod:`.pgshape`)."""
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


def source_column(name: str, type_oid: int, typmod: int, nullable: bool, database: str, **extra: Any) -> Column:
    """A catalog column for a PostgreSQL column of ``database``: the served Arrow type and the source's type."""
    field = served_field(SourceColumn(name, type_oid, typmod, nullable), database)
    pg_type = column_type_for_field(field)
    return Column(name, field.type, nullable, source_type=pg_type, **extra)


class _NormalizingReader(ConvertingReader):
    """Wraps ADBC's reader so batches carry the served schema (pinned types, decimals)."""

    def __init__(self, reader: pa.RecordBatchReader, schema: pa.Schema) -> None:
        super().__init__(reader, schema)

    def _convert(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return conform_batch(batch, self.schema)


@dataclass(frozen=True)
class ResultShape:
    """A statement's result as the source describes it, and the SQL that reads it exactly."""

    schema: pa.Schema
    sql: str
    columns: tuple[SourceColumn, ...] = ()


class ShapeCache:
    """Shapes of recent statements, by SQL text (described once through libpq, then reused)."""

    def __init__(
        self, describe: Callable[[str], tuple[list[SourceColumn], list[int]]], database: str = "", size: int = 512
    ) -> None:
        self._describe = describe
        self._database = database
        self._shapes: dict[str, ResultShape] = {}
        self._size = size
        self._lock = threading.Lock()
        self._generation = TYPE_GENERATION[0]

    def get(self, sql: str) -> ResultShape:
        if self._generation != TYPE_GENERATION[0]:  # a type is served under another OID now
            self.clear()
            self._generation = TYPE_GENERATION[0]
        shape = self._shapes.get(sql)
        if shape is None:
            columns, param_oids = self._describe(sql)
            database = self._database
            shape = ResultShape(
                served_schema(columns, database),
                text_wrapped(typed_parameters(sql, param_oids, database), columns),
                tuple(columns),
            )
            with self._lock:
                if len(self._shapes) >= self._size:
                    self._shapes.clear()
                self._shapes[sql] = shape
        return shape

    def peek(self, sql: str) -> ResultShape | None:
        """The shape of ``sql`` if known already (never a round trip)."""
        return self._shapes.get(sql)

    def clear(self) -> None:
        with self._lock:
            self._shapes.clear()


def _same_schema(known: pa.Schema, schema: pa.Schema) -> bool:
    """Whether ``schema`` is ``known`` (a plan described again gives an equal schema, another object)."""
    return known is schema or known.equals(schema, check_metadata=True)


def _bindable(value: object) -> object:
    """A parameter as ADBC binds it: a time of day with a zone (timetz) as its ISO text, and a
    multi-dimensional array as PostgreSQL's array text, both of which the statement casts (ADBC
    would bind the time without its offset, and binds no nested list); an interval with months as
    its text too (Arrow has no Python type for it)."""
    if isinstance(value, time) and value.tzinfo is not None:
        return value.isoformat()
    if isinstance(value, list) and any(isinstance(item, list) for item in value):
        return _array_text(value)
    if isinstance(value, Interval):  # an interval with months: Arrow has no Python type for it
        return value.text()
    return value


def _array_text(value: object) -> str:
    """PostgreSQL's text form of a (nested) list: ``{{1,2},{NULL,"a b"}}``."""
    if isinstance(value, list):
        return "{" + ",".join(_array_text(item) for item in value) + "}"
    return "NULL" if value is None else quoted_element(value)


class PostgresCursor(PooledCursor[_NormalizingReader]):
    """One query on a pooled connection; the connection returns to the pool only when the
    result was read to its end without error or interruption."""

    CLOSE_ERRORS = (adbc_driver_manager.Error,)

    def __init__(self, pool: ConnectionPool, shapes: ShapeCache, timezone: str = "UTC") -> None:
        super().__init__(pool)
        self._shapes = shapes
        self._timezone = timezone  # the session's: the connection (in UTC when taken) is set to it

    def _open_cursor(self, connection: Any) -> Any:
        return connection.cursor()

    _unsent = False  # the last failure happened before the server started the statement

    def _broken(self, error: VeilError) -> bool:
        """A pooled connection the server had dropped before the statement reached it (restart,
        idle timeout, admin shutdown). A backend terminated while it ran the statement is the
        statement's error (57P01), not retried."""
        return self._unsent and (error.sqlstate.startswith(("08", "57P")) or "connection" in error.message.lower())

    def _run(self, sql: str, params: Sequence[object]) -> _NormalizingReader:
        shape = self._shapes.get(sql)
        try:
            if self._timezone != "UTC":  # reset to UTC before the pool hands the connection out again
                self._cursor.execute(f"SET TimeZone = '{self._timezone.replace(chr(39), chr(39) * 2)}'")
            self._cursor.execute(shape.sql, parameters=tuple(map(_bindable, params)) if params else None)
            return _NormalizingReader(self._cursor.fetch_record_batch(), shape.schema)
        except (adbc_driver_manager.Error, OSError) as exc:
            self._unsent = "Failed to prepare query" in str(exc) or "no connection to the server" in str(exc)
            raise map_postgres_error(exc) from None

    def interrupt(self) -> None:
        self._clean = False
        connection = self._connection
        if connection is None:
            return  # closed already
        with contextlib.suppress(adbc_driver_manager.Error):
            connection.adbc_cancel()


def reset_session(connection: adbc_pg.Connection) -> None:
    """Back to the state of a new session before the pool hands ``connection`` out again:
    settings (``set_config``), prepared statements, cursors, temporary tables, LISTEN and
    advisory locks. Settings given at connect time are the session defaults and survive."""
    with connection.cursor() as cursor:
        cursor.execute("DISCARD ALL")


class PostgresSource:
    """A PostgreSQL database; one ADBC connection per running query."""

    dialect = "postgres"

    def __init__(self, name: str, config: ConnectionConfig, settings: PostgresSettings | None = None) -> None:
        self.name = name
        self.config = config
        self.settings = settings or PostgresSettings.model_validate(config.options)
        self._lock = threading.Lock()
        self._pool = ConnectionPool(self._connect, reset=reset_session)
        self._libpq = ConnectionPool(self._connect_libpq)
        self._passthrough = PassthroughPool(self._connect_passthrough)
        #: Whether a statement's served schema is its source shape (checked once per plan).
        self._passable: dict[str, tuple[ResultShape, pa.Schema, bool]] = {}
        self._shapes = ShapeCache(self._describe_columns, self.type_database)

    @property
    def type_database(self) -> str:
        """Where the source's types live: connections to one database share them (and their OIDs)."""
        c = self.settings
        return f"{c.host}:{c.port or 5432}/{c.database or c.user or ''}"

    @property
    def connection_key(self) -> tuple[object, ...]:
        c = self.settings
        return ("postgres", c.host, c.port or 5432, c.sslmode, c.user, c.password, c.database)

    def _uri(self) -> str:
        c = self.settings
        credentials = quote(c.user or "", safe="")
        if c.password:
            credentials += ":" + quote(c.password, safe="")
        # libpq: whole seconds, at least 2; the server ends a statement running longer than
        # statement_timeout itself (a lock wait included) with 57014. TimeZone UTC: the zone a
        # pooled connection is in whenever a cursor takes it (DISCARD ALL keeps startup values).
        query = {"connect_timeout": str(max(2, math.ceil(self.config.connect_timeout))),
                 "options": f"-c statement_timeout={math.ceil(self.config.statement_timeout * 1000)} -c TimeZone=UTC"}
        if c.sslmode:
            query["sslmode"] = c.sslmode
        return f"postgresql://{credentials}@{c.host}:{c.port or 5432}/{quote(c.database or '', safe='')}?{urlencode(query, quote_via=quote)}"

    def _connect(self) -> adbc_pg.Connection:
        try:
            return adbc_pg.connect(self._uri(), autocommit=True)
        except adbc_driver_manager.Error as exc:
            message = map_postgres_error(exc).message
            raise errcodes.ConnectionFailure(
                f'connection "{self.name}": cannot connect to PostgreSQL: {message}',
                hint=self._connect_hint(message),
            ) from None

    def _connect_libpq(self) -> _LibpqConnection:
        """A libpq connection for describing statements (ADBC does not report type modifiers
        nor the OIDs of the types it does not know)."""
        return _LibpqConnection(self._open_pgconn(f"-c statement_timeout={_DESCRIBE_TIMEOUT_MS}"))

    async def _connect_passthrough(self) -> pgwire.WireConnection:
        """A protocol session for pass-through statements (:mod:`.passthrough`), on the event loop."""
        c, s = self.config, self.settings
        user = s.user or getpass.getuser()
        options = {**OUTPUT_OPTIONS, "application_name": "veil passthrough",
                   "statement_timeout": str(self._statement_timeout_ms)}
        try:
            connection = await asyncio.wait_for(
                pgwire.connect(s.host or "localhost", s.port or 5432, user, s.password, s.database or user, s.sslmode,
                               options),
                c.connect_timeout,
            )
        except (OSError, ssl.SSLError, TimeoutError, VeilError) as exc:
            message = exc.message if isinstance(exc, VeilError) else str(exc) or "timed out"
            raise errcodes.ConnectionFailure(
                f'connection "{self.name}": cannot connect to PostgreSQL: {message}',
                hint=self._connect_hint(message),
            ) from None
        # The server ends a statement at statement_timeout itself; a server silent for longer
        # (stopped, or the network gone) is given up on.
        connection.read_timeout = c.statement_timeout + c.connect_timeout
        return connection

    @property
    def _statement_timeout_ms(self) -> int:
        return math.ceil(self.config.statement_timeout * 1000)

    def _open_pgconn(self, options: str, application_name: str = "veil") -> PGconn:
        c = self.settings
        conninfo = psycopg.conninfo.make_conninfo(
            host=c.host, port=c.port or 5432, dbname=c.database or "", user=c.user or "",
            password=c.password or None, sslmode=c.sslmode or None, connect_timeout=_CONNECT_TIMEOUT,
            options=options, application_name=application_name,
        )
        connection = pq.PGconn.connect(conninfo.encode())
        if connection.status != pq.ConnStatus.OK:
            message = connection.get_error_message().strip()
            connection.finish()
            raise errcodes.ConnectionFailure(
                f'connection "{self.name}": cannot connect to PostgreSQL: {message}',
                hint=self._connect_hint(message),
            )
        return connection

    def _describe_columns(self, sql: str) -> tuple[list[SourceColumn], list[int]]:
        connection, reused = self._libpq.acquire()
        try:
            columns = connection.describe(sql)
        except VeilError:
            healthy = connection.healthy
            self._libpq.release(connection, healthy)
            if healthy or not reused:
                raise
            connection = self._libpq.fresh()  # the server dropped an idle connection: once more
            try:
                columns = connection.describe(sql)
            except VeilError:
                self._libpq.release(connection, connection.healthy)
                raise
        self._libpq.release(connection, True)
        return columns

    def _connect_hint(self, message: str) -> str | None:
        """What to check in the config for the usual connection failures."""
        where = f"connections.{self.name}"
        c = self.settings
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
        return PostgresCursor(self._pool, self._shapes)

    def zoned_cursor(self, timezone: str) -> PostgresCursor:
        """A cursor computing ``timestamptz`` in ``timezone`` (a session's TimeZone, as
        PostgreSQL spells it): a statement pushed down whole reads and prints in it."""
        return PostgresCursor(self._pool, self._shapes, timezone)

    def describe(self, sql: str, param_count: int) -> pa.Schema:
        return self._shapes.get(sql).schema

    async def passthrough_cursor(
        self, sql: str, schema: pa.Schema, settings: SessionSettings
    ) -> PassthroughCursor | None:
        """A cursor that forwards PostgreSQL's own bytes for ``sql``, or ``None`` when the
        connection does not enable it or a column is served with another type than the source's
        (its values would differ from what Veil's encoder sends)."""
        if not self.settings.passthrough:
            return None
        shape = self._shapes.peek(sql)
        if shape is None:
            shape = await asyncio.to_thread(self._shapes.get, sql)
        checked = self._passable.get(sql)
        if checked is None or checked[0] is not shape or not _same_schema(checked[1], schema):
            columns = shape.columns
            passable = len(columns) == len(schema) and all(
                column_type_for_field(field).oid == column.type_oid
                for field, column in zip(schema, columns, strict=True)
            )
            if len(self._passable) >= _PASSABLE_SIZE:
                self._passable.clear()
            checked = self._passable[sql] = (shape, schema, passable)
        if not checked[2]:
            return None
        return PassthroughCursor(self._passthrough, settings, self._statement_timeout_ms)

    def fast_pool(self, sql: str, schema: pa.Schema) -> PassthroughPool | None:
        """The pass-through pool for ``sql`` when :meth:`passthrough_cursor` already found it
        passable with this schema (and the source's shape of it is unchanged); else ``None``.
        Never a round trip: the fast path of a repeated statement asks it every time."""
        checked = self._passable.get(sql)
        if (
            checked is None or not checked[2] or not self.settings.passthrough
            or checked[0] is not self._shapes.peek(sql) or not _same_schema(checked[1], schema)
        ):
            return None
        return self._passthrough

    def map_error(self, exc: BaseException) -> VeilError:
        return exc if isinstance(exc, VeilError) else map_postgres_error(exc)

    def check(self) -> None:
        check_source(self)

    def list_tables(self) -> list[SourceTable]:
        cursor = self.cursor()
        try:
            register_user_types(drain(cursor.execute(LIST_USER_TYPES)).to_pylist(), self.type_database)
            rows = drain(cursor.execute(_LIST_COLUMNS)).to_pylist()
            keys = keys_by_table(drain(cursor.execute(LIST_KEYS)).to_pylist())
        finally:
            cursor.close()
        tables: dict[tuple[str, str], list[Column]] = {}
        oids: dict[tuple[str, str], int] = {}
        comments: dict[tuple[str, str], str | None] = {}
        for row in rows:
            schema, table, column, _, type_oid, typmod, nullable, oid, default, comment, table_comment, declared = (
                row.values()
            )
            tables.setdefault((schema, table), []).append(source_column(
                column, type_oid, typmod, bool(nullable), self.type_database, default=default, description=comment,
                declared_type=declared,
            ))
            oids[(schema, table)] = oid
            comments[(schema, table)] = table_comment
        # pg_class.oid changes when a table is dropped and created again: sync reports it as recreated.
        return [
            SourceTable(self.settings.database, schema, table, tuple(columns), object_id=str(oids[(schema, table)]),
                        description=comments[(schema, table)], keys=keys.get((schema, table), ()))
            for (schema, table), columns in tables.items()
        ]

    def close(self) -> None:
        self._pool.close()
        self._libpq.close()
        self._passthrough.close()
        self._shapes.clear()


class _LibpqConnection:
    """A libpq connection that only describes statements (the unnamed prepared statement)."""

    def __init__(self, connection: PGconn) -> None:
        self._connection = connection

    def describe(self, sql: str) -> tuple[list[SourceColumn], list[int]]:
        try:
            prepared = self._connection.prepare(b"", sql.encode())
            _check(prepared)
            result = self._connection.describe_prepared(b"")
        except psycopg.Error as exc:  # libpq returned no result: the connection is gone
            raise errcodes.ConnectionFailure(f"lost the connection to PostgreSQL: {exc}") from None
        _check(result)
        columns = [
            SourceColumn((result.fname(i) or b"?column?").decode(), result.ftype(i), result.fmod(i))
            for i in range(result.nfields)
        ]
        return columns, [result.param_type(i) for i in range(result.nparams)]

    @property
    def healthy(self) -> bool:
        return self._connection.status == pq.ConnStatus.OK

    def close(self) -> None:
        self._connection.finish()


def _check(result: PGresult) -> None:
    if result.status == pq.ExecStatus.COMMAND_OK:
        return
    sqlstate = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"XX000").decode()
    primary = result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY)
    if primary is None:
        message, hint = server_text(result.error_message.decode(errors="replace"))
    else:
        hint_field = (result.error_field(pq.DiagnosticField.MESSAGE_HINT) or b"").decode(errors="replace").strip()
        message, hint = primary.decode(errors="replace").strip(), hint_field if hint_field and not re.search("[\"']", hint_field) else None
    raise VeilError(sqlstate, message, hint=hint)

