"""Databricks SQL warehouses, read through databricks-sql-connector (Thrift, Arrow results).

A connection points at one warehouse (``server_hostname`` + ``http_path``) and one Unity Catalog
``catalog``. The connection key leaves the catalog out: one warehouse answers three-part names
across catalogs, so tables of two connections on the same warehouse are joined there, in one
statement (the planner writes ``catalog.schema.table`` for this dialect).

* Results stream: ``fetchmany_arrow`` in chunks of ``FETCH_ROWS``, each chunk cast to the served
  schema (:mod:`veil.catalog.sources.databricks.column_types`), never the whole result at once.
* Parameters: Veil's ``$n`` (``${n}`` as sqlglot writes them for Databricks) become the
  connector's native named parameters ``:pn``; bytes travel as hex through ``unhex``.
* Sessions are pooled (opening one is an HTTP round trip plus the connector's setup).
* ``port`` and ``protocol: http`` exist only for a local warehouse emulator (the tests' fake).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from databricks import sql as dbsql
from databricks.sql import exc as dbexc

from veil import errcodes
from veil.catalog.model import Column
from veil.catalog.sources.base import SourceTable, SourceTag, read_all
from veil.catalog.sources.bounded import call_within, close_late
from veil.catalog.sources.databricks.column_types import (
    arrow_type_for,
    conform_batch,
    served_schema,
)
from veil.catalog.sources.databricks.settings import DatabricksSettings
from veil.catalog.sources.pool import ConnectionPool, PooledCursor
from veil.config.models import ConnectionConfig
from veil.errors import QueryCanceled, VeilError

log = logging.getLogger(__name__)

FETCH_ROWS = 65536

_TOKENS = re.compile(
    r"(?P<text>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`(?:[^`]|``)*`|--[^\n]*|/\*.*?\*/)"
    r"|\$\{(?P<braced>\d+)\}|\$(?P<bare>\d+)",
    re.DOTALL,
)
_ERROR_CLASS = re.compile(r"\[([A-Z_]+(?:\.[A-Z_]+)*)\]")
_EXPIRED_SESSION = re.compile(r"invalid\s*session\s*handle|session .*(?:expired|not found|closed)", re.IGNORECASE)
_SQLSTATE = re.compile(r"SQLSTATE:\s*([0-9A-Z]{5})")
# Databricks error classes whose SQLSTATE is not the one a PostgreSQL client expects.
_CLASS_STATES = {
    "TABLE_OR_VIEW_NOT_FOUND": "42P01",
    "PARSE_SYNTAX_ERROR": "42601",
    "UNRESOLVED_COLUMN": "42703",
    "UNRESOLVED_ROUTINE": "42883",
    "DIVIDE_BY_ZERO": "22012",
    "CAST_INVALID_INPUT": "22P02",
    "ARITHMETIC_OVERFLOW": "22003",
    "NO_SUCH_CATALOG_EXCEPTION": "3D000",
    "SCHEMA_NOT_FOUND": "3F000",
    "INSUFFICIENT_PERMISSIONS": "42501",
    "PERMISSION_DENIED": "42501",
    "OPERATION_CANCELED": "57014",
}


def _quote(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def to_named(sql: str, params: Sequence[object]) -> tuple[str, dict[str, object] | None]:
    """``$n``/``${n}`` placeholders outside literals, identifiers and comments → ``:pn``."""
    if not params:
        return sql, None
    binary = {f"p{i}" for i, v in enumerate(params, 1) if isinstance(v, bytes | bytearray | memoryview)}
    values = {
        f"p{i}": bytes(v).hex() if isinstance(v, bytes | bytearray | memoryview) else v for i, v in enumerate(params, 1)
    }

    def replace(match: re.Match[str]) -> str:
        if match.group("text") is not None:
            return match.group("text")
        name = f"p{match.group('braced') or match.group('bare')}"
        return f"unhex(:{name})" if name in binary else f":{name}"

    return _TOKENS.sub(replace, sql), values


def map_databricks_error(exc: BaseException) -> VeilError:
    """A connector exception as a PostgreSQL error: the first line of the warehouse's message,
    without the statement text it may quote (which can hold literals, the hash key included)."""
    if isinstance(exc, VeilError):
        return exc
    text = str(getattr(exc, "message", None) or exc).strip()
    if isinstance(exc, dbexc.RequestError):
        return _request_error(exc, text)
    if not isinstance(exc, dbexc.Error):
        reason = text.split("Caused by", 1)[-1].strip(" ()\"'").split("\n", 1)[0]
        return errcodes.SqlclientUnableToEstablishSqlconnection(f"cannot reach Databricks: {type(exc).__name__}: {reason}")
    message = text.split("\n", 1)[0].split("== SQL", 1)[0].strip()
    if _EXPIRED_SESSION.search(message):
        # The warehouse no longer knows the pooled session (expired, warehouse restarted).
        return errcodes.ConnectionDoesNotExist(f"the Databricks session is gone: {message}")
    message = _SQLSTATE.sub("", message).strip()
    error_class = _ERROR_CLASS.search(message)
    state = None
    if error_class:
        state = _CLASS_STATES.get(error_class.group(1)) or _CLASS_STATES.get(error_class.group(1).split(".")[0])
        message = _ERROR_CLASS.sub("", message, count=1).strip()
    if state is None:
        found = _SQLSTATE.search(text)
        state = found.group(1) if found and not found.group(1).startswith("XX") else "XX000"
    # Backticks quote names in Databricks messages; PostgreSQL's double quotes let the engine's
    # redaction keep the names a user can see and hide the rest.
    return VeilError(state, re.sub(r"`([^`]*)`", r'"\1"', message) or "Databricks error")


def _request_error(exc: BaseException, text: str) -> VeilError:
    context = getattr(exc, "context", None) or {}
    code = context.get("http-code")
    detail = str(context.get("error-message") or "").strip(" :") or text
    if code in (401, 403):
        return errcodes.InvalidPassword(f"Databricks rejected the access token (HTTP {code}: {detail})")
    if code == 404:
        return errcodes.SqlclientUnableToEstablishSqlconnection(f"no Databricks SQL warehouse at this http_path (HTTP 404: {detail})")
    if code is not None:
        return errcodes.ConnectionFailure(f"Databricks request failed (HTTP {code}: {detail})")
    return errcodes.SqlclientUnableToEstablishSqlconnection(f"cannot reach Databricks: {detail}")


class _Reader:
    """The result in chunks of ``FETCH_ROWS`` rows, in the served schema."""

    def __init__(self, cursor: Any, schema: pa.Schema) -> None:
        self._cursor = cursor
        self.schema = schema
        self._pending: list[pa.RecordBatch] = []
        self.exhausted = False

    def read_next_batch(self) -> pa.RecordBatch:
        while not self._pending:
            if self.exhausted:
                raise StopIteration
            try:
                chunk = self._cursor.fetchmany_arrow(FETCH_ROWS)
            except dbexc.Error as exc:
                raise map_databricks_error(exc) from None
            if chunk.num_rows == 0:
                self.exhausted = True
                raise StopIteration
            self._pending = [b for b in chunk.to_batches() if b.num_rows]
        return conform_batch(self._pending.pop(0), self.schema)


def _result_schema(cursor: Any) -> pa.Schema:
    """The served schema of the cursor's result, from the Arrow schema the warehouse sent."""
    result = cursor.active_result_set
    raw = getattr(result, "_arrow_schema_bytes", None)
    if raw:
        return served_schema(pa.ipc.read_schema(pa.py_buffer(raw)))
    return served_schema(cursor.fetchmany_arrow(0).schema)


class DatabricksCursor(PooledCursor[_Reader]):
    """One statement on a pooled session; ``interrupt`` cancels it from another thread. A session
    the warehouse dropped (expired, restarted warehouse, network: SQLSTATE 08xxx) is replaced once."""

    CLOSE_ERRORS = (dbexc.Error, OSError)

    def __init__(self, source: DatabricksSource) -> None:
        self._source = source
        super().__init__(source.pool)

    def _open_cursor(self, connection: Any) -> Any:
        return connection.cursor(arraysize=FETCH_ROWS)

    def _run(self, sql: str, params: Sequence[object]) -> _Reader:
        text, named = to_named(sql, params)
        try:
            self._cursor.execute(text, named)
            if self._interrupted:
                raise QueryCanceled()
            return _Reader(self._cursor, _result_schema(self._cursor))
        except Exception as exc:  # noqa: BLE001 - network errors escape the connector's own classes
            raise QueryCanceled() if self._interrupted else map_databricks_error(exc) from None

    def interrupt(self) -> None:
        with self._lock:
            self._clean = False
            self._interrupted = True
        try:
            self._cursor.cancel()
        except (dbexc.Error, OSError) as exc:
            log.warning("connection %s: could not cancel a statement: %s", self._source.name, exc)


_LIST_COLUMNS = """
SELECT c.table_schema, c.table_name, c.column_name, c.full_data_type, c.is_nullable, CAST(t.created AS STRING)
FROM {catalog}.information_schema.columns AS c
JOIN {catalog}.information_schema.tables AS t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema <> 'information_schema'
ORDER BY c.table_schema, c.table_name, c.ordinal_position
"""
_LIST_TAGS = """
SELECT schema_name, table_name, column_name, tag_name, tag_value
FROM {catalog}.information_schema.column_tags
WHERE schema_name <> 'information_schema'
UNION ALL
SELECT schema_name, table_name, CAST(NULL AS STRING), tag_name, tag_value
FROM {catalog}.information_schema.table_tags
WHERE schema_name <> 'information_schema'
ORDER BY 1, 2, 3, 4
"""


class DatabricksSource:
    """One Unity Catalog catalog on one Databricks SQL warehouse."""

    dialect = "databricks"

    def __init__(self, name: str, config: ConnectionConfig, settings: DatabricksSettings | None = None) -> None:
        self.name = name
        self.config = config
        self.settings = settings or DatabricksSettings.model_validate(config.options)
        self.pool = ConnectionPool(self._connect, max_idle=4)
        self._catalog: str | None = self.settings.catalog

    @property
    def connection_key(self) -> tuple[object, ...]:
        c = self.settings
        return ("databricks", c.server_hostname, c.port, c.protocol, c.http_path, c.access_token)

    def _connect_args(self) -> dict[str, Any]:
        c = self.settings
        args: dict[str, Any] = {
            "server_hostname": c.server_hostname, "http_path": c.http_path, "access_token": c.access_token,
            "enable_telemetry": False, "_retry_stop_after_attempts_count": 3,
            # every HTTP request (open, execute, poll, fetch, cancel) waits at most this long
            # for the warehouse; a statement's whole run is bounded by the session's deadline
            "_socket_timeout": self.config.statement_timeout,
            # the retries of one request end within half the connect timeout: a host that refuses
            # is reported as such (08001) before connect_timeout gives the attempt up
            "_retry_stop_after_attempts_duration": max(1.0, self.config.connect_timeout / 2),
        }
        if c.catalog:
            args["catalog"] = c.catalog
        if c.protocol == "http":
            path = c.http_path if (c.http_path or "").startswith("/") else f"/{c.http_path}"
            args["_connection_uri"] = f"http://{c.server_hostname}:{c.port or 80}{path}"
        elif c.port:
            args["_port"] = c.port
        return args

    def _connect(self) -> Any:
        """A session, opened within ``connect_timeout`` (the connector has no such bound of its
        own: a warehouse that accepts and never answers held it for its socket timeout and
        retries); a session that opens too late is closed when it does."""
        args = self._connect_args()
        seconds = self.config.connect_timeout
        try:
            return call_within(lambda: dbsql.connect(**args), seconds, f"connect-{self.name}", late=close_late)
        except TimeoutError:
            raise errcodes.ConnectionFailure(
                f'connection "{self.name}": cannot connect to Databricks: no answer within {seconds:g} s (connect_timeout)',
                hint=self._connect_hint(VeilError("08006", "no answer"))) from None
        except Exception as exc:  # noqa: BLE001 - urllib3 and socket errors escape the connector too
            error = map_databricks_error(exc)
            raise VeilError("08006" if error.sqlstate == "XX000" else error.sqlstate,
                            f'connection "{self.name}": cannot connect to Databricks: {error.message}',
                            hint=self._connect_hint(error)) from None

    def _connect_hint(self, error: VeilError) -> str | None:
        """What to check in the config for the usual connection failures."""
        where = f"connections.{self.name}"
        c = self.settings
        if error.sqlstate == "28P01":
            return f"check {where}.access_token (a personal access token or service principal token for this workspace)"
        if error.sqlstate == "3D000":
            return f"catalog {c.catalog!r} does not exist or is not visible to this token: check {where}.catalog"
        if "404" in error.message:
            return f"check {where}.http_path (Warehouses → Connection details → HTTP path)"
        if c.protocol == "http":
            return (f"protocol: http is only for a local warehouse emulator; is it running on "
                    f"{c.server_hostname}:{c.port}? For a real workspace, remove {where}.protocol and {where}.port")
        return f"is {c.server_hostname} reachable over HTTPS? Check {where}.server_hostname"

    def cursor(self) -> DatabricksCursor:
        return DatabricksCursor(self)

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r.values()) for r in read_all(self, sql, params).to_pylist()]

    def describe(self, sql: str, param_count: int) -> pa.Schema:
        """The result schema from the warehouse's result metadata, with ``LIMIT 0`` (no rows)."""
        cursor = self.cursor()
        try:
            return cursor.execute(f"SELECT * FROM ({sql}) AS veil_describe LIMIT 0", [None] * param_count).schema
        finally:
            cursor.close()

    def map_error(self, exc: BaseException) -> VeilError:
        return map_databricks_error(exc)

    def catalog(self) -> str:
        """The configured catalog, else the session's default one."""
        if self._catalog is None:
            self._catalog = str(self._query("SELECT current_catalog()")[0][0])
        return self._catalog

    def check(self) -> None:
        """Open a session and read the catalog's schemas: reachability, token, catalog, path."""
        connection, _ = self.pool.acquire()
        self.pool.release(connection, True)
        try:
            self._query(f"SELECT schema_name FROM {_quote(self.catalog())}.information_schema.schemata LIMIT 1")
        except VeilError as error:
            raise VeilError(error.sqlstate, f'connection "{self.name}": {error.message}',
                            hint=self._connect_hint(error)) from None

    def list_tables(self) -> list[SourceTable]:
        catalog = self.catalog()
        tables: dict[tuple[str, str], list[Column]] = {}
        created: dict[tuple[str, str], str | None] = {}
        for schema, table, column, data_type, nullable, made in self._query(_LIST_COLUMNS.format(catalog=_quote(catalog))):
            tables.setdefault((schema, table), []).append(Column(column, arrow_type_for(data_type), nullable != "NO"))
            created[(schema, table)] = made
        # Unity Catalog has no table id in information_schema; the creation time changes when a
        # table is dropped and created again (CREATE OR REPLACE included), so sync reports it.
        return [
            SourceTable(catalog, schema, table, tuple(columns), object_id=created[(schema, table)],
                        created=created[(schema, table)])
            for (schema, table), columns in tables.items()
        ]

    def list_tags(self) -> list[SourceTag]:
        """Unity Catalog column and table tags as Veil tags: ``name.value``, or ``name`` for a
        key-only tag; a table tag (from ``table_tags``) has no column."""
        rows = self._query(_LIST_TAGS.format(catalog=_quote(self.catalog())))
        return [SourceTag(schema, table, column, f"{tag}.{value}" if value else tag)
                for schema, table, column, tag, value in rows]

    def close(self) -> None:
        self.pool.close()
