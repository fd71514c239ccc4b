"""Pass-through execution for PostgreSQL sources: a statement pushed down whole is run with libpq
(psycopg's ``pq`` layer) and its values are forwarded to the client as DataRow messages built
from the bytes PostgreSQL sent, in the format the client asked for (all text or all binary),
with no Arrow conversion and no per-value decoding.

Each pooled connection prepares a statement once per SQL text (``send_prepare``) and reuses it
(``send_query_prepared``); a binary result without parameters is read as binary COPY instead,
whose rows are DataRow bodies already (no per-value work at all). Results are read in chunks of :data:`CHUNK_ROWS` rows (libpq 17's
chunked rows mode, else single-row mode). A connection handed to another user, or to a session
with another TimeZone or statement_timeout, is first reset to a new session's state (keeping its
prepared statements) and given that session's settings, in one round trip; for the same user
and settings nothing is sent (the pushed statements are verified SELECTs, whose functions the
allow-list keeps from changing session state). PostgreSQL thus prints what Veil's own encoder
would: the output settings DateStyle, IntervalStyle, extra_float_digits and bytea_output are
fixed at connect time.
"""

from __future__ import annotations

import contextlib
import select
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq.abc import PGconn, PGresult

from veil import errcodes
from veil.catalog.sources.pool import ConnectionPool
from veil.errors import QueryCanceled, VeilError

#: Rows read from libpq at a time (one DataRow chunk handed to the wire front end).
CHUNK_ROWS = 2000
#: Statements one connection keeps prepared; beyond that they are all deallocated.
MAX_PREPARED = 256
#: Output settings matching Veil's encoder (see veil.engine.settings.DEFAULTS).
OUTPUT_OPTIONS = (
    "-c DateStyle=ISO,MDY -c IntervalStyle=postgres -c extra_float_digits=1 -c bytea_output=hex"
    " -c client_encoding=UTF8"
)
_CHUNKED = hasattr(pq.PGconn, "set_chunked_rows_mode") and pq.version() >= 170000
#: What a reused connection runs before a query: a new session's state, prepared statements kept.
_RESET = "RESET ALL; CLOSE ALL; UNLISTEN *; SELECT pg_catalog.pg_advisory_unlock_all(); DISCARD TEMP; "
_NULL = b"\xff\xff\xff\xff"
_COPY_HEADER = 19  # signature (11 bytes), flags and header extension length
_COPY_TRAILER = b"\xff\xff"
_I32 = struct.Struct(">i").pack
_TUPLES = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE, getattr(pq.ExecStatus, "TUPLES_CHUNK", -1))


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """The client session's settings a source query must run with, and whose they are."""

    timezone: str
    statement_timeout: str
    user: str = ""


class PassthroughConnection:
    """A libpq connection with the statements it has prepared, by SQL text."""

    def __init__(self, connection: PGconn) -> None:
        self.pgconn = connection
        #: Made once: the backend's cancel key does not change, and the session's cancel then
        #: never reads the connection while a worker thread uses it.
        self.canceller = connection.get_cancel()
        self.prepared: dict[str, bytes] = {}
        #: The settings the connection's session has (None: new, never used).
        self.settings: SessionSettings | None = None

    @property
    def healthy(self) -> bool:
        return self.pgconn.status == pq.ConnStatus.OK

    def close(self) -> None:
        self.pgconn.finish()


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sqlstate_error(result: PGresult) -> VeilError:
    sqlstate = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"XX000").decode()
    message = (result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or result.error_message).decode(errors="replace")
    return VeilError(sqlstate if len(sqlstate) == 5 else "XX000", message.strip())


def data_rows(result: PGresult) -> list[bytes]:
    """One DataRow message per row of ``result``, from the values' bytes as PostgreSQL sent them."""
    nfields = result.nfields
    get = result.get_value
    columns = range(nfields)
    count = nfields.to_bytes(2, "big")
    rows = []
    for row in range(result.ntuples):
        parts = [count]
        for column in columns:
            value = get(row, column)
            if value is None:
                parts.append(_NULL)
            else:
                parts.append(len(value).to_bytes(4, "big"))
                parts.append(value)
        body = b"".join(parts)
        rows.append(b"D" + (len(body) + 4).to_bytes(4, "big") + body)
    return rows


def text_parameters(params: Sequence[object | None]) -> list[bytes | None]:
    """Bind values in PostgreSQL's text form (psycopg's dumpers), for the statement's own types."""
    if not params:
        return []
    transformer = Transformer()
    dumped = transformer.dump_sequence(list(params), [PyFormat.TEXT] * len(params))
    return [None if value is None else bytes(value) for value in dumped]


class PassthroughCursor:
    """One statement on a pooled libpq connection, read chunk by chunk in a worker thread.

    The connection goes back to the pool only when its result was read to the end without
    error or interruption; ``interrupt`` (the session's cancel) cancels the source query."""

    def __init__(self, pool: ConnectionPool, settings: SessionSettings) -> None:
        self._pool = pool
        self._settings = settings
        self._lock = threading.Lock()
        self._connection: PassthroughConnection | None = None
        self._clean = False
        self._done = False
        self._interrupted = False
        #: -1: not a COPY; else the bytes of COPY's file header still to skip.
        self._copy = -1

    def execute(self, sql: str, params: Sequence[object | None], binary: bool) -> list[bytes] | None:
        """Send the statement and return the first chunk of DataRows (``None``: no rows at all)."""
        values = text_parameters(params)
        connection, reused = self._pool.acquire()
        with self._lock:
            self._connection = connection
        try:
            self._start(connection, sql, values, binary)
        except VeilError:
            if not reused or connection.healthy or self._interrupted:
                raise
            self._pool.release(connection, False)  # dropped while idle: once more on a fresh one
            connection = self._pool.fresh()
            with self._lock:
                self._connection = connection
            self._start(connection, sql, values, binary)
        rows = self.next_chunk()
        if rows is not None and len(rows) < CHUNK_ROWS and not self._done:
            # A short chunk is the last one: read the end now (a point query is one thread hop).
            rows += self.next_chunk() or []
        return rows

    @property
    def finished(self) -> bool:
        return self._done

    def _start(self, connection: PassthroughConnection, sql: str, values: list[bytes | None], binary: bool) -> None:
        pgconn = connection.pgconn
        settings = self._settings
        if connection.settings != settings:
            # Another user (or other settings): a new session's state first, then this session's.
            prefix = "" if connection.settings is None else _RESET
            connection.settings = None
            self._command(
                pgconn,
                f"{prefix}SET TimeZone = {_literal(settings.timezone)}; "
                f"SET statement_timeout = {_literal(settings.statement_timeout)}",
            )
            connection.settings = settings
        if binary and not values:
            self._start_copy(pgconn, sql)
            return
        name = connection.prepared.get(sql)
        if name is None and len(connection.prepared) >= MAX_PREPARED:
            self._command(pgconn, "DEALLOCATE ALL")
            connection.prepared.clear()
        if name is None:
            name = f"veil_{len(connection.prepared)}".encode()
            self._command(pgconn, None, prepare=(name, sql.encode()))
            connection.prepared[sql] = name
        try:
            pgconn.send_query_prepared(name, values, result_format=pq.Format.BINARY if binary else pq.Format.TEXT)
            if _CHUNKED:
                pgconn.set_chunked_rows_mode(CHUNK_ROWS)
            else:
                pgconn.set_single_row_mode()
        except psycopg.Error as exc:
            raise errcodes.ConnectionFailure(f"lost the connection to PostgreSQL: {exc}") from None

    def _start_copy(self, pgconn: PGconn, sql: str) -> None:
        """A binary result without parameters as binary COPY: each CopyData row is a DataRow's
        body (field count, then each value's length and bytes), read with no per-value work."""
        try:
            pgconn.send_query(f"COPY ({sql}) TO STDOUT (FORMAT binary)".encode())
        except psycopg.Error as exc:
            raise errcodes.ConnectionFailure(f"lost the connection to PostgreSQL: {exc}") from None
        result = self._result(pgconn)
        if result is None or result.status != pq.ExecStatus.COPY_OUT:
            error = _sqlstate_error(result) if result is not None else errcodes.InternalError("COPY did not start")
            self._drain(pgconn)
            raise error
        self._copy = _COPY_HEADER

    def _copy_chunk(self, pgconn: PGconn) -> list[bytes] | None:
        rows: list[bytes] = []
        append = rows.append
        skip = self._copy
        try:
            while len(rows) < CHUNK_ROWS:
                size, data = pgconn.get_copy_data(1)
                if size > 0:
                    if skip:  # the file header arrives with the first row
                        data, size, skip = data[skip:], size - skip, 0
                        self._copy = 0
                    if size == 0 or (size == 2 and bytes(data) == _COPY_TRAILER):
                        continue
                    append(b"D" + _I32(size + 4) + data)
                elif size == 0:
                    if rows:
                        return rows
                    select.select([pgconn.socket], [], [], 1.0)
                    pgconn.consume_input()
                else:
                    break
            else:
                return rows
        except psycopg.Error as exc:
            if self._interrupted:
                raise QueryCanceled() from None
            raise errcodes.ConnectionFailure(f"lost the connection to PostgreSQL: {exc}") from None
        # The end of the COPY: its final result says whether it succeeded.
        result = self._result(pgconn)
        error = None if result is None or result.status == pq.ExecStatus.COMMAND_OK else _sqlstate_error(result)
        self._drain(pgconn)
        if error is not None:
            raise error
        self._clean = True
        return rows or None

    def _command(self, pgconn: PGconn, sql: str | None, prepare: tuple[bytes, bytes] | None = None) -> None:
        """Run a command that returns no rows; its error (with SQLSTATE) is raised."""
        try:
            if prepare is not None:
                pgconn.send_prepare(*prepare)
            else:
                assert sql is not None
                pgconn.send_query(sql.encode())
        except psycopg.Error as exc:
            raise errcodes.ConnectionFailure(f"lost the connection to PostgreSQL: {exc}") from None
        error = None
        while (result := self._result(pgconn)) is not None:
            if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK) and error is None:
                error = _sqlstate_error(result)
        if error is not None:
            raise error

    def _result(self, pgconn: PGconn) -> PGresult | None:
        """The next result, waiting for the socket outside the GIL (a blocking libpq call
        would hold it)."""
        try:
            while pgconn.is_busy():
                select.select([pgconn.socket], [], [], 1.0)
                pgconn.consume_input()
            return pgconn.get_result()
        except psycopg.Error as exc:
            if self._interrupted:
                raise QueryCanceled() from None
            raise errcodes.ConnectionFailure(f"lost the connection to PostgreSQL: {exc}") from None

    def next_chunk(self) -> list[bytes] | None:
        """The next DataRows, or ``None`` at the end of the result."""
        connection = self._connection
        if self._done or connection is None:
            return None
        pgconn = connection.pgconn
        if self._copy >= 0:
            return self._copy_chunk(pgconn)
        result = self._result(pgconn)
        if result is None:
            self._done = self._clean = True
            return None
        if result.status not in _TUPLES:
            error = _sqlstate_error(result)
            self._drain(pgconn)
            raise error
        rows = data_rows(result)
        if result.status == pq.ExecStatus.TUPLES_OK:
            # The last (possibly empty) piece; libpq then returns no more results.
            self._drain(pgconn)
            self._done = self._clean = True
        return rows

    def _drain(self, pgconn: PGconn) -> None:
        self._done = True
        while self._result(pgconn) is not None:
            pass

    def interrupt(self) -> None:
        with self._lock:
            self._interrupted = True
            connection = self._connection
        if connection is not None and not self._done:
            with contextlib.suppress(psycopg.Error):
                connection.canceller.cancel()

    def close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            self._pool.release(connection, self._clean and self._done and not self._interrupted)

