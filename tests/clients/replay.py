"""Replays captured statements over one libpq connection (psycopg 3's `psycopg.pq` binding).

Extended protocol: Parse (no parameter types, i.e. all `unknown`) + Describe statement + Bind with the
logged values as text + Execute, like asyncpg/psycopg do. Simple protocol: one Query message, every
result read. The session's transaction state carries over from statement to statement, as it did
for the client that was captured.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import pq
from psycopg.pq.abc import PGconn, PGresult

from tests.clients.captures import Protocol, Statement, statement_count

OK_STATUSES = {pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK, pq.ExecStatus.EMPTY_QUERY}


@dataclass(frozen=True)
class Outcome:
    statement: Statement
    protocol: Protocol
    sqlstate: str | None  # None when it succeeded
    message: str
    rows: list[tuple[str | None, ...]]

    def describe(self) -> str:
        sql = " ".join(self.statement.sql.split())
        return f"{self.statement.source} [{self.protocol}] {self.sqlstate}: {self.message.strip()}\n    {sql[:300]}"


def _text(result: PGresult) -> list[tuple[str | None, ...]]:
    rows = []
    for row in range(result.ntuples):
        values = (result.get_value(row, col) for col in range(result.nfields))
        rows.append(tuple(None if v is None else bytes(v).decode() for v in values))
    return rows


def _error(result: PGresult | None, connection: PGconn) -> tuple[str, str]:
    if result is None:
        return "no result", connection.get_error_message()
    state = result.error_field(pq.DiagnosticField.SQLSTATE)
    message = result.error_message.decode(errors="replace") or connection.get_error_message()
    return (state.decode() if state else str(result.status)), message


class Replayer:
    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.connection = self._connect()
        self.prepared: dict[str, str] = {}

    def _connect(self) -> PGconn:
        connection = pq.PGconn.connect(self.conninfo.encode())
        if connection.status != pq.ConnStatus.OK:
            raise ConnectionError(connection.get_error_message())
        return connection

    def close(self) -> None:
        self.connection.finish()

    def query(self, sql: str) -> list[tuple[str | None, ...]]:
        """A helper query that must succeed (simple protocol)."""
        result = self.connection.exec_(sql.encode())
        if result.status not in OK_STATUSES:
            raise AssertionError(f"{sql!r} failed: {_error(result, self.connection)}")
        return _text(result)

    def run(self, statement: Statement, protocol: Protocol) -> Outcome:
        if protocol == "extended" and statement_count(statement.sql) > 1:
            protocol = "simple"  # a multi-statement string cannot be Parsed
        outcome = self._simple(statement) if protocol == "simple" else self._extended(statement)
        if self.connection.status != pq.ConnStatus.OK:
            self.connection = self._connect()
            self.prepared.clear()
            return Outcome(statement, protocol, "connection lost", outcome.message, [])
        return outcome

    def recover(self) -> None:
        """After a failure inside a transaction block, start a fresh one so later statements are judged alone."""
        if self.connection.transaction_status == pq.TransactionStatus.INERROR:
            self.query("ROLLBACK")
            self.query("BEGIN")

    def _simple(self, statement: Statement) -> Outcome:
        try:
            self.connection.send_query(statement.sql.encode())
        except psycopg.OperationalError as error:
            return Outcome(statement, "simple", "send failed", str(error), [])
        failure: tuple[str, str] | None = None
        rows: list[tuple[str | None, ...]] = []
        while (result := self.connection.get_result()) is not None:
            if result.status not in OK_STATUSES and failure is None:
                failure = _error(result, self.connection)
            elif result.status == pq.ExecStatus.TUPLES_OK:
                rows = _text(result)
        if failure:
            return Outcome(statement, "simple", failure[0], failure[1], [])
        return Outcome(statement, "simple", None, "", rows)

    def _extended(self, statement: Statement) -> Outcome:
        name = statement.name.encode()
        params = [None if value is None else value.encode() for value in statement.params]
        if self.prepared.get(statement.name) != statement.sql:
            if statement.name in self.prepared:
                self._close_prepared(name)
            result = self.connection.prepare(name, statement.sql.encode())  # Parse + Sync, no param types
            if result.status != pq.ExecStatus.COMMAND_OK:
                return Outcome(statement, "extended", *_error(result, self.connection), [])
            if statement.name:
                self.prepared[statement.name] = statement.sql
        described = self.connection.describe_prepared(name)  # Describe statement + Sync
        if described.status != pq.ExecStatus.COMMAND_OK:
            return Outcome(statement, "extended", *_error(described, self.connection), [])
        if described.nparams != len(params):
            message = f"ParameterDescription has {described.nparams} parameters, the client sent {len(params)}"
            return Outcome(statement, "extended", "param count", message, [])
        # Bind (text; None is NULL, which the stubs do not admit) + Describe portal + Execute + Sync
        result = self.connection.exec_prepared(name, params)  # type: ignore[arg-type]
        if result.status not in OK_STATUSES:
            return Outcome(statement, "extended", *_error(result, self.connection), [])
        described_types = [described.ftype(i) for i in range(described.nfields)]
        returned_types = [result.ftype(i) for i in range(result.nfields)]
        if described_types != returned_types:
            message = f"Describe statement said column types {described_types}, the portal returned {returned_types}"
            return Outcome(statement, "extended", "describe mismatch", message, [])
        return Outcome(statement, "extended", None, "", _text(result))

    def _close_prepared(self, name: bytes) -> None:
        try:
            self.connection.close_prepared(name)
        except psycopg.NotSupportedError:  # libpq < 17 has no PQclosePrepared
            self.query(f'DEALLOCATE "{name.decode()}"')
