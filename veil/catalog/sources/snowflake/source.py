"""Snowflake sources, read through snowflake-connector-python 4.x.

Results stream as Arrow: the connector downloads result chunks one by one
(``fetch_arrow_batches``), and each chunk is cast to the served schema (see
:mod:`veil.catalog.sources.snowflake.column_types`) without Python row objects.

Opening a Snowflake session costs a login round trip (and often seconds on a cold account),
so connections are pooled like PostgreSQL's: a connection goes back to the pool only after a
query read to its end without error or interruption.

Placeholders: Veil's plans carry PostgreSQL's ``$1..$n``. They become the connector's pyformat
parameters (``%(p1)s``), which the connector renders as escaped literals; the emulator the tests
run (fakesnow) has no server-side binding, and pyformat works the same on a real account.

A source lists the tables of one database (``database``, else the user's default database).
The engine names Snowflake tables ``database.schema.table`` (its plugin declares
``three_part_names``), so the database is not part of the connection key: one session can
read the tables of several connections of the same account and user in one statement.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import snowflake.connector
from snowflake.connector import SnowflakeConnection
from snowflake.connector.cursor import SnowflakeCursor as ConnectorCursor

from veil import errcodes
from veil.catalog.model import Column
from veil.catalog.sources.base import SourceTable, SourceTag, check_source
from veil.catalog.sources.bounded import call_within, close_late
from veil.catalog.sources.pool import ConnectionPool, PooledCursor
from veil.catalog.sources.snowflake.column_types import (
    arrow_type_for,
    conform_batch,
    served_schema,
)
from veil.catalog.sources.snowflake.error_map import map_snowflake_error
from veil.catalog.sources.snowflake.settings import SnowflakeSettings
from veil.config.models import ConnectionConfig
from veil.errors import QueryCanceled, VeilError

log = logging.getLogger(__name__)
# The connector logs every login and request retry at INFO; keep Veil's log about Veil unless the
# admin configured the connector's logger.
if logging.getLogger("snowflake.connector").level == logging.NOTSET:
    logging.getLogger("snowflake.connector").setLevel(logging.WARNING)

SOCKET_TIMEOUT = 120  # seconds one HTTP request may stay silent (queries poll, so this is per poll)

_LIST_COLUMNS = """
SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, c.IS_NULLABLE,
       c.NUMERIC_PRECISION, c.NUMERIC_SCALE, t.CREATED
FROM {db}.INFORMATION_SCHEMA.COLUMNS c
JOIN {db}.INFORMATION_SCHEMA.TABLES t
  ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE c.TABLE_SCHEMA <> 'INFORMATION_SCHEMA'
ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION
"""

# Column tags set in Snowflake (account-wide view; needs IMPORTED PRIVILEGES on the SNOWFLAKE
# database, and lags behind tag changes by up to two hours).
_LIST_TAGS = """
SELECT OBJECT_SCHEMA, OBJECT_NAME, DOMAIN, COLUMN_NAME, TAG_NAME, TAG_VALUE
FROM SNOWFLAKE.ACCOUNT_USAGE.TAG_REFERENCES
WHERE DOMAIN IN ('COLUMN', 'TABLE') AND OBJECT_DELETED IS NULL AND OBJECT_DATABASE = $1
ORDER BY 1, 2, 3, 4, 5
"""

# Quoted strings, quoted identifiers, $$-strings and comments are copied (with % doubled for
# pyformat); $n placeholders outside them become pyformat parameters.
_TOKENS = re.compile(
    r"(?P<text>'(?:[^'\\]|\\.|'')*'|\"(?:[^\"]|\"\")*\"|\$\$.*?\$\$|--[^\n]*|/\*.*?\*/)"
    r"|\$(?P<param>\d+)|(?P<percent>%)",
    re.DOTALL,
)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def to_pyformat(sql: str, params: Sequence[object]) -> tuple[str, dict[str, object] | None]:
    """``sql`` with ``$n`` placeholders as the connector's pyformat parameters."""
    if not params:
        return sql, None

    def replace(match: re.Match[str]) -> str:
        if match.group("param") is not None:
            index = int(match.group("param"))
            if not 1 <= index <= len(params):
                raise errcodes.ProtocolViolation(f"there is no parameter ${index}")
            return f"%(p{index})s"
        if match.group("percent") is not None:
            return "%%"
        return match.group("text").replace("%", "%%")

    return _TOKENS.sub(replace, sql), {f"p{i}": value for i, value in enumerate(params, 1)}


class _Reader:
    """The connector's Arrow chunks, conformed to the served schema, one batch at a time."""

    def __init__(self, cursor: ConnectorCursor, schema: pa.Schema) -> None:
        self.schema = schema
        self._tables = cursor.fetch_arrow_batches(force_microsecond_precision=True)
        self._batches: Iterator[pa.RecordBatch] = iter(())
        self.exhausted = False

    def read_next_batch(self) -> pa.RecordBatch:
        while True:
            batch = next(self._batches, None)
            if batch is not None:
                return conform_batch(batch, self.schema)
            table = next(self._tables, None)
            if table is None:
                self.exhausted = True
                raise StopIteration
            self._batches = iter(table.to_batches())


class SnowflakeCursor(PooledCursor[_Reader]):
    """One query on a pooled connection; ``interrupt`` aborts it from another thread. A session
    Snowflake dropped (expired token, closed session, network: SQLSTATE 08xxx) is replaced once."""

    CLOSE_ERRORS = (snowflake.connector.Error,)

    def __init__(self, source: SnowflakeSource) -> None:
        self._source = source
        super().__init__(source.pool)

    def _open_cursor(self, connection: SnowflakeConnection) -> ConnectorCursor:
        return connection.cursor()

    def _run(self, sql: str, params: Sequence[object]) -> _Reader:
        text, bound = to_pyformat(sql, params)
        try:
            self._cursor.execute(text, bound)
            if self._interrupted:
                raise QueryCanceled()
            return _Reader(self._cursor, served_schema(self._cursor.description))
        except snowflake.connector.Error as exc:
            raise QueryCanceled() if self._interrupted else map_snowflake_error(exc) from None

    def interrupt(self) -> None:
        with self._lock:
            self._clean = False
            self._interrupted = True
            query_id = self._cursor.sfqid
            cursor = self._cursor
        if query_id is None:
            return  # not started yet: execute notices the flag when the request returns
        try:
            cursor.abort_query(query_id)
        except (snowflake.connector.Error, OSError) as exc:
            log.warning("connection %s: could not abort query %s: %s", self._source.name, query_id, exc)


class SnowflakeSource:
    """One database of a Snowflake account (or of a local emulator, with host/port/protocol)."""

    dialect = "snowflake"

    def __init__(self, name: str, config: ConnectionConfig, settings: SnowflakeSettings | None = None) -> None:
        self.name = name
        self.config = config
        self.settings = settings or SnowflakeSettings.model_validate(config.options)
        self.pool = ConnectionPool(self._connect)
        self._database: str | None = self.settings.database

    @property
    def connection_key(self) -> tuple[object, ...]:
        c = self.settings
        credential = str(c.private_key_file) if c.private_key_file else c.password
        return ("snowflake", c.host or c.account, c.port, c.protocol, c.user, credential, c.role)

    # -- connections ------------------------------------------------------------------------------
    def _connect_args(self) -> dict[str, Any]:
        c = self.settings
        args: dict[str, Any] = {
            "account": c.account,
            "user": c.user,
            "login_timeout": self.config.connect_timeout,  # seconds for the login request, retries included
            "socket_timeout": min(SOCKET_TIMEOUT, max(1.0, self.config.statement_timeout)),
            # Snowflake ends a statement running longer itself (the session's deadline also does)
            "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False,
                                   "STATEMENT_TIMEOUT_IN_SECONDS": max(1, math.ceil(self.config.statement_timeout))},
            "arrow_number_to_decimal": True,  # NUMBER(p,s) as exact decimals, never float64
            "client_session_keep_alive": False,
            "application": "Veil",
        }
        if c.private_key_file is not None:
            args["authenticator"] = "SNOWFLAKE_JWT"
            args["private_key_file"] = str(c.private_key_file)
            if c.password:
                args["private_key_file_pwd"] = c.password  # the key's passphrase
        else:
            args["password"] = c.password
        for key in ("warehouse", "database", "role", "host", "port", "protocol"):
            value = getattr(c, key)
            if value is not None:
                args[key] = value
        return args

    def _connect(self) -> SnowflakeConnection:
        """A connection, logged in within ``connect_timeout``: the connector's ``login_timeout``
        is checked between attempts, so a host that accepts and never answers held it for its
        socket timeout; a connection that opens too late is closed when it does."""
        args = self._connect_args()
        seconds = self.config.connect_timeout
        try:
            return call_within(lambda: snowflake.connector.connect(**args), seconds, f"connect-{self.name}",
                               late=close_late)
        except TimeoutError:
            raise errcodes.ConnectionFailure(
                f'connection "{self.name}": cannot connect to Snowflake: no answer within {seconds:g} s (connect_timeout)',
                hint=self._connect_hint(VeilError("08006", "no answer"))) from None
        except snowflake.connector.Error as exc:
            error = map_snowflake_error(exc)
            raise VeilError(
                error.sqlstate if error.sqlstate.startswith(("08", "28")) else "08006",
                f'connection "{self.name}": cannot connect to Snowflake: {error.message}',
                hint=self._connect_hint(error),
            ) from None
        except (OSError, ValueError, TypeError) as exc:  # a key file that cannot be read or decrypted
            raise errcodes.InvalidAuthorizationSpecification(f'connection "{self.name}": cannot use the private key for Snowflake: {exc}',
                            hint=f"check connections.{self.name}.private_key_file (and its passphrase, "
                            f"connections.{self.name}.password)") from None

    def _connect_hint(self, error: VeilError) -> str | None:
        where = f"connections.{self.name}"
        c = self.settings
        message = error.message.lower()
        if error.sqlstate.startswith("28"):
            secret = "private_key_file" if c.private_key_file else "password"
            return f"check {where}.user and {where}.{secret}"
        if "missing response field" in message or "unexpected" in message:
            return (f"{c.host}:{c.port} does not answer like Snowflake: a local emulator must support "
                    "snowflake-connector-python 4.x (fakesnow 0.12 does; connector 5.x does not work with it)")
        if error.sqlstate.startswith("08"):
            if c.host:
                return (f"is Snowflake (or the emulator) reachable at {c.protocol or 'https'}://{c.host}:{c.port or 443}? "
                        f"Check {where}.host, {where}.port and {where}.protocol")
            return f"is the account identifier right and the network open to Snowflake? Check {where}.account"
        return None

    def cursor(self) -> SnowflakeCursor:
        return SnowflakeCursor(self)

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """A small metadata query, read as Python rows."""
        connection, _ = self.pool.acquire()
        reusable = False
        try:
            with connection.cursor() as cursor:
                text, bound = to_pyformat(sql, params)
                rows = cursor.execute(text, bound).fetchall()
            reusable = True
            return rows
        except snowflake.connector.Error as exc:
            raise map_snowflake_error(exc) from None
        finally:
            self.pool.release(connection, reusable)

    # -- Source protocol --------------------------------------------------------------------------
    def describe(self, sql: str, param_count: int) -> pa.Schema:
        connection, _ = self.pool.acquire()
        reusable = False
        try:
            with connection.cursor() as cursor:
                text, bound = to_pyformat(sql, [None] * param_count)
                description = cursor.describe(text, bound)
            reusable = True
            return served_schema(description)
        except snowflake.connector.Error as exc:
            raise map_snowflake_error(exc) from None
        finally:
            self.pool.release(connection, reusable)

    def map_error(self, exc: BaseException) -> VeilError:
        return map_snowflake_error(exc)

    def check(self) -> None:
        """Log in, run ``SELECT 1``, then make sure the database (and warehouse) are in use:
        Snowflake accepts a login whose database or warehouse does not exist and only fails
        the first query that needs them."""
        check_source(self)
        where = f"connections.{self.name}"
        database, = self._query("SELECT CURRENT_DATABASE()")[0]
        if database is None:
            wanted = self.settings.database
            problem = f'database "{wanted}" does not exist or is not authorized' if wanted else "no database is set"
            raise errcodes.InvalidCatalogName(f'connection "{self.name}": {problem}',
                            hint=f"check {where}.database (and {where}.role)")
        if self.settings.warehouse:
            try:
                warehouse, = self._query("SELECT CURRENT_WAREHOUSE()")[0]
            except VeilError:
                if self.settings.protocol == "http":
                    return  # a local emulator has no warehouses
                raise
            if warehouse is None:
                raise errcodes.InvalidCatalogName(f'connection "{self.name}": warehouse "{self.settings.warehouse}" '
                                "does not exist or is not authorized",
                                hint=f"check {where}.warehouse (and {where}.role)")

    def database(self) -> str:
        """The database this source lists and queries."""
        if self._database is None:
            current, = self._query("SELECT CURRENT_DATABASE()")[0]
            if current is None:
                raise errcodes.InvalidCatalogName(f'connection "{self.name}": no database is set',
                                hint=f"set connections.{self.name}.database")
            self._database = str(current)
        return self._database

    def list_tables(self) -> list[SourceTable]:
        database = self.database()
        tables: dict[tuple[str, str], list[Column]] = {}
        created: dict[tuple[str, str], str | None] = {}
        for schema, table, column, data_type, nullable, precision, scale, made in self._query(
            _LIST_COLUMNS.format(db=_quote(database))
        ):
            arrow_type = arrow_type_for(data_type, precision, scale)
            tables.setdefault((schema, table), []).append(Column(column, arrow_type, nullable == "YES"))
            created[(schema, table)] = made.isoformat() if made is not None else None
        # CREATED changes when a table is dropped and created again (CREATE OR REPLACE included):
        # object sync reports it as recreated.
        return [
            SourceTable(database, schema, table, tuple(columns),
                        object_id=created[(schema, table)], created=created[(schema, table)])
            for (schema, table), columns in tables.items()
        ]

    def list_tags(self) -> list[SourceTag]:
        """Column and table tags from Snowflake's tag references, as Veil tags: ``NAME.value``,
        or ``NAME`` for a tag set without a value. A table tag (domain ``TABLE``, which views
        share) has no column."""
        rows = self._query(_LIST_TAGS, [self.database()])
        return [
            SourceTag(schema, table, column if domain == "COLUMN" else None, f"{tag}.{value}" if value else tag)
            for schema, table, domain, column, tag, value in rows
        ]

    def close(self) -> None:
        self.pool.close()
