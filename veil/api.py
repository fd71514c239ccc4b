"""The contract between the wire front end (``veil.proxy``) and the query engine.

The proxy knows the PostgreSQL protocol and nothing about policies, catalogs or sources; the
engine knows SQL and nothing about bytes on a socket. They meet here:

* :meth:`EngineSession.prepare` turns one SQL statement plus the parameter OIDs a client declared
  into a :class:`PreparedStatement` whose parameter types and result schema are known *without
  executing it* (Describe must not run the query).
* :meth:`EngineSession.execute` runs a prepared statement with decoded parameter values and
  returns a :class:`ResultStream`: an Arrow schema plus an async iterator of record batches,
  pulled lazily so a huge result never sits in memory and a slow client slows only itself.
* Errors are raised as :class:`veil.errors.VeilError` carrying a SQLSTATE.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa

from veil.errors import VeilError


@dataclass(frozen=True)
class SessionInfo:
    """Who is connected, from the startup packet and authentication."""

    user: str
    database: str
    application_name: str = ""
    client_address: str = ""
    startup_parameters: dict[str, str] = field(default_factory=dict)
    tls: TlsInfo | None = None  # None: the connection is not encrypted


@dataclass(frozen=True)
class TlsInfo:
    """The TLS session of a connection, as pg_stat_ssl shows it."""

    version: str  # TLSv1.3
    cipher: str
    bits: int


@dataclass
class PreparedStatement:
    """A parsed, analysed statement, ready to run any number of times.

    ``param_oids`` has one entry per ``$n`` placeholder: the client's OID where it sent one,
    else the type the engine inferred (``text`` for a bare ``$1``). ``schema`` is the result's
    row description, or ``None`` for statements that return no rows (SET, BEGIN, ...).
    ``command`` is the command tag's verb (``SELECT``, ``SET``, ``BEGIN``...).
    """

    sql: str
    param_oids: list[int]
    schema: pa.Schema | None
    command: str
    plan: object = None  # engine-private


@dataclass(frozen=True, slots=True)
class EncodedRows:
    """Rows already encoded as DataRow messages in the formats the client asked for (a
    pass-through result), back to back in ``data``: the wire front end writes them as they are."""

    data: bytes | memoryview
    num_rows: int

    def get_total_buffer_size(self) -> int:
        """Bytes held (named like RecordBatch's, so stream wrappers count both alike)."""
        return len(self.data)

    def split(self, count: int) -> tuple[EncodedRows, EncodedRows]:
        """The first ``count`` rows and the rest, as views of the same bytes (a portal's row
        limit: many small fetches from one big run copy nothing; walks ``count`` headers)."""
        data = memoryview(self.data)
        position = 0
        for _ in range(count):
            position += 1 + int.from_bytes(data[position + 1 : position + 5], "big")
        return EncodedRows(data[:position], count), EncodedRows(data[position:], self.num_rows - count)


class ResultStream(Protocol):
    """Rows of one execution, pulled batch by batch (record batches, or :class:`EncodedRows`
    when ``execute`` was given ``result_formats``)."""

    schema: pa.Schema | None

    def __aiter__(self) -> AsyncIterator[pa.RecordBatch | EncodedRows]: ...

    def command_tag(self, rows_sent: int) -> str:
        """The CommandComplete tag once the stream is finished (``SELECT 42``, ``SET``...)."""
        ...

    async def close(self) -> None:
        """Release the source cursor early (portal closed or transaction ended)."""
        ...


class EngineSession(Protocol):
    """One client connection's view of the engine."""

    @property
    def transaction_status(self) -> str:
        """``I`` idle, ``T`` in a transaction block, ``E`` in a failed transaction block."""
        ...

    def split(self, sql: str) -> list[str]:
        """Split a simple-query string into statements (an empty string gives ``[]``)."""
        ...

    async def prepare(self, sql: str, param_oids: Sequence[int]) -> PreparedStatement: ...

    async def execute(
        self,
        statement: PreparedStatement,
        params: Sequence[object | None],
        result_formats: Sequence[int] | None = None,
    ) -> ResultStream:
        """``result_formats`` (one code per result column) lets the engine answer with
        :class:`EncodedRows` in those formats; ``None``: record batches only."""
        ...

    def mark_failed(self) -> None:
        """An error happened: inside a transaction block the block is now failed (``E``)."""
        ...

    def pending_parameter_status(self) -> dict[str, str]:
        """Reportable settings changed since the last call (sent as ParameterStatus)."""
        ...

    def cancel(self) -> None:
        """Interrupt the statement running now, if any (CancelRequest)."""
        ...

    async def close(self) -> None: ...


class Engine(Protocol):
    """Shared by all connections: opens one :class:`EngineSession` per client connection."""

    def open_session(self, info: SessionInfo) -> EngineSession: ...

    def audit_login(self, info: SessionInfo, error: VeilError) -> None:
        """Record a refused login (wrong password, unknown user, back-off) in the audit trail."""
        ...
