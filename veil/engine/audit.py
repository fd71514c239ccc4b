"""The audit trail: one JSON line per statement.

A record is opened when a statement starts and written once when it ends (last row streamed,
error, or portal closed), so it carries the outcome, row count, bytes and duration. Writes are
appended under a lock from any thread; a failing audit write is logged, never surfaced to the
client's statement.
"""

from __future__ import annotations

import json
import logging
import threading
from time import perf_counter
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from veil.engine.api import ResultStream
from veil.errors import VeilError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppliedPolicy:
    """A policy that changed what a statement returned."""

    name: str
    table: str
    kind: str
    columns: tuple[str, ...] = ()


@dataclass
class AuditRecord:
    user: str
    client_address: str
    application_name: str
    statement: str
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    tables: list[str] = field(default_factory=list)
    connections: list[str] = field(default_factory=list)
    pushed_sql: list[str] = field(default_factory=list)
    policies: list[AppliedPolicy] = field(default_factory=list)
    outcome: str = "ok"
    sqlstate: str = "00000"
    error: str | None = None
    rows: int = 0
    bytes: int = 0
    duration_ms: float = 0.0
    cache_hit: bool = False
    started: float = field(default_factory=perf_counter, repr=False)

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("started")
        return json.dumps(data, default=str, separators=(",", ":"))


class AuditLog:
    """Appends records to a JSON-lines file (or nowhere, when no path is configured)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: AuditRecord) -> None:
        record.duration_ms = round((perf_counter() - record.started) * 1000, 3)
        if self.path is None:
            return
        line = record.to_json() + "\n"
        try:
            with self._lock, self.path.open("a", encoding="utf-8") as file:
                file.write(line)
        except OSError as exc:
            log.error("cannot write audit record to %s: %s", self.path, exc)

    def fail(self, record: AuditRecord, error: VeilError) -> None:
        record.outcome = "error"
        record.sqlstate = error.sqlstate
        record.error = error.message
        self.write(record)


class AuditedStream:
    """Counts what a result stream delivers and writes the audit record when it ends."""

    def __init__(self, inner: ResultStream, record: AuditRecord, audit: AuditLog) -> None:
        self.schema = inner.schema
        self._inner = inner
        self._record = record
        self._audit = audit
        self._written = False

    async def __aiter__(self) -> AsyncIterator[pa.RecordBatch]:
        try:
            async for batch in self._inner:
                self._record.rows += batch.num_rows
                self._record.bytes += batch.nbytes
                yield batch
        except VeilError as error:
            self._finish(error)
            raise

    def command_tag(self, rows_sent: int) -> str:
        self._finish(None)
        return self._inner.command_tag(rows_sent)

    async def close(self) -> None:
        self._finish(None)
        await self._inner.close()

    def _finish(self, error: VeilError | None) -> None:
        if self._written:
            return
        self._written = True
        if error is None:
            self._audit.write(self._record)
        else:
            self._audit.fail(self._record, error)
