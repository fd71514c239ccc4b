"""The audit trail: one JSON line per statement.

A record is opened when a statement starts and written once when it ends (last row streamed,
error, or portal closed), so it carries the outcome, row count, bytes and duration. Writes are
appended under a lock from any thread; a failing audit write is logged, never surfaced to the
client's statement.

Every statement writes a record, so writing is kept cheap: the file stays open (``O_APPEND``,
one unbuffered ``write`` per record, so readers see whole lines at once) and is reopened when
the path no longer names the open file (rotated or deleted, checked at most once a second); records are serialised without
``dataclasses.asdict``'s deep copy.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from time import monotonic, perf_counter
from typing import Any

import pyarrow as pa

from veil.admin.redact import scrub
from veil.api import ResultStream
from veil.errors import VeilError
from veil.private_files import FILE_MODE, private_directory

log = logging.getLogger(__name__)

#: How long the open audit file is trusted before ``stat`` checks that its path still names it
#: (a rotated or deleted file is noticed within this time; records written meanwhile land in the
#: renamed file, never nowhere). A ``stat`` per record was a twentieth of a point query.
_RECHECK_SECONDS = 1.0


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
        """One JSON object, keys in field order (``started`` left out), nested records as
        objects: what ``json.dumps(asdict(record))`` gives, without the deep copy."""
        values = self.__dict__
        data = {name: values[name] for name in _JSON_FIELDS}
        data["policies"] = [_policy_json(p) for p in self.policies]
        return _ENCODER.encode(data)


_JSON_FIELDS = tuple(f.name for f in fields(AuditRecord) if f.name != "started")
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))


def _policy_json(policy: Any) -> Any:
    if type(policy) is AppliedPolicy:
        return {"name": policy.name, "table": policy.table, "kind": policy.kind, "columns": policy.columns}
    return asdict(policy) if is_dataclass(policy) and not isinstance(policy, type) else policy


class AuditLog:
    """Appends records to a JSON-lines file (or nowhere, when no path is configured)."""

    def __init__(self, path: Path | None, secrets: tuple[str, ...] = ()) -> None:
        self.path = path
        self._secrets = secrets  # never written: scrubbed from every record
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._identity = (0, 0)  # (inode, device) of the open file
        self._checked = 0.0  # monotonic time the path last named the open file
        if path is not None:
            private_directory(path.parent)

    def write(self, record: AuditRecord) -> None:
        record.duration_ms = round((perf_counter() - record.started) * 1000, 3)
        if self.path is None:
            return
        self._append(record.to_json())

    def write_repeated(self, template: RecordTemplate, time: str, started: float, rows: int, size: int) -> None:
        """What :meth:`write` writes for ``template``'s record that started at ``time`` (its
        ``started`` perf counter) and succeeded with ``rows`` and ``size`` bytes, without
        building the record: the same line, byte for byte."""
        duration = round((perf_counter() - started) * 1000, 3)
        if self.path is not None:
            self._append(template.line(time, rows, size, duration))

    def _append(self, text: str) -> None:
        line = ((scrub(text, self._secrets) if self._secrets else text) + "\n").encode("utf-8")
        try:
            with self._lock:
                os.write(self._file(), line)
        except OSError as exc:
            log.error("cannot write audit record to %s: %s", self.path, exc)

    def _file(self) -> int:
        """The open descriptor of ``path``, (re)opened when the path names another file."""
        assert self.path is not None
        fd = self._fd
        if fd is not None and monotonic() - self._checked < _RECHECK_SECONDS:
            return fd
        if fd is not None:
            try:
                current = os.stat(self.path)
                if (current.st_ino, current.st_dev) == self._identity:
                    self._checked = monotonic()
                    return fd
            except FileNotFoundError:
                pass
            self._fd = None
            os.close(fd)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        opened = os.fstat(fd)
        if opened.st_mode & 0o777 != FILE_MODE:
            os.fchmod(fd, FILE_MODE)  # an existing file, or a umask: records are readable by Veil only
        self._fd, self._identity, self._checked = fd, (opened.st_ino, opened.st_dev), monotonic()
        return fd

    def close(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)

    def __del__(self) -> None:
        # A reload replaces the engine's AuditLog; the old one's descriptor goes with it.
        fd = getattr(self, "_fd", None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def fail(self, record: AuditRecord, error: VeilError) -> None:
        record.outcome = "error"
        record.sqlstate = error.sqlstate
        record.error = error.message
        self.write(record)


class RecordTemplate:
    """The JSON line of a successful record of one repeated statement, serialized once with
    its time and counts left open (``to_json`` cut at sentinel values)."""

    __slots__ = ("_parts",)

    _TIME, _ROWS, _BYTES, _DURATION = "\x00time\x00", -7_315_931, -8_426_042, -9_537_153.125

    def __init__(self, record: AuditRecord) -> None:
        sample = replace(record, time=self._TIME, rows=self._ROWS, bytes=self._BYTES, duration_ms=self._DURATION)
        sample.outcome, sample.sqlstate, sample.error = "ok", "00000", None
        text = sample.to_json()
        parts: list[str] = []
        for marker in (_ENCODER.encode(self._TIME), str(self._ROWS), str(self._BYTES), repr(self._DURATION)):
            head, found, text = text.partition(marker)
            if not found or marker in text:
                raise ValueError("the record's text holds a template sentinel")
            parts.append(head)
        self._parts = (*parts, text)

    def line(self, time: str, rows: int, size: int, duration: float) -> str:
        start, after_time, after_rows, after_bytes, end = self._parts
        return f"{start}{_ENCODER.encode(time)}{after_time}{rows}{after_rows}{size}{after_bytes}{duration!r}{end}"


class TemplateSlot:
    """The :class:`RecordTemplate` of one fast-path statement, rebuilt when the session's
    application_name (part of every record) changes; ``None`` where the statement's text holds a
    template sentinel (then whole records are written)."""

    __slots__ = ("_cached",)

    def __init__(self) -> None:
        self._cached: tuple[str, RecordTemplate | None] | None = None

    def get(self, application_name: str, record: Callable[[], AuditRecord]) -> RecordTemplate | None:
        cached = self._cached
        if cached is None or cached[0] != application_name:
            try:
                template: RecordTemplate | None = RecordTemplate(record())
            except ValueError:
                template = None
            self._cached = cached = (application_name, template)
        return cached[1]


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
                # Arrow buffer bytes; ``nbytes`` would cost ~45 µs per batch (it walks a sliced
                # batch's offsets), a tenth of a whole point query.
                self._record.bytes += batch.get_total_buffer_size()
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
