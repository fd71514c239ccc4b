"""A deterministic stand-in for the query engine, so protocol tests do not depend on SQL.

Statements it understands (case-insensitive):

* ``rows N [batch B]``: ``N`` rows ``(i int64, label string)`` in batches of ``B`` (default 1000)
* ``echo $1`` (``$2``...): returns the decoded parameters as one row (``text`` by default)
* ``sleep``: a row only after being cancelled (it then fails with 57014)
* ``boom``: prepare raises 42601; ``explode``: execute raises a plain Python exception
* ``fail late``: the stream fails with 22012 after its first batch
* ``begin`` / ``commit`` / ``rollback``; ``set NAME = VALUE`` (reported as ParameterStatus)
* ``deallocate ...``, ``discard all``, ``close ...``: no-ops with their command tags
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence

import pyarrow as pa

from veil.api import PreparedStatement, SessionInfo
from veil.errors import InFailedTransaction, QueryCanceled, SqlSyntaxError, VeilError

ROWS_SCHEMA = pa.schema([("i", pa.int64()), ("label", pa.string())])


class FakeStream:
    def __init__(
        self,
        schema: pa.Schema | None,
        batches: AsyncIterator[pa.RecordBatch] | None,
        tag: str,
        engine: FakeEngine,
    ) -> None:
        self.schema = schema
        self._batches = batches
        self._tag = tag
        self._engine = engine
        self.closed = False
        engine.open_streams += 1

    async def __aiter__(self) -> AsyncIterator[pa.RecordBatch]:
        if self._batches is not None:
            async for batch in self._batches:
                yield batch

    def command_tag(self, rows_sent: int) -> str:
        return f"{self._tag} {rows_sent}" if self._tag == "SELECT" else self._tag

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._engine.open_streams -= 1


class FakeSession:
    def __init__(self, engine: FakeEngine, info: SessionInfo) -> None:
        self.engine = engine
        self.info = info
        self.status = "I"
        self.pending: dict[str, str] = {}
        self.cancelled = asyncio.Event()
        self.closed = False

    @property
    def transaction_status(self) -> str:
        return self.status

    def split(self, sql: str) -> list[str]:
        return [part.strip() for part in sql.split(";") if part.strip() and not part.strip().startswith("--")]

    async def prepare(self, sql: str, param_oids: Sequence[int]) -> PreparedStatement:
        text = sql.strip().rstrip(";").strip()
        lowered = text.lower()
        if lowered == "boom":
            raise SqlSyntaxError('syntax error at or near "boom"', position=1)
        count = len(set(re.findall(r"\$(\d+)", text)))
        oids = [param_oids[i] if i < len(param_oids) and param_oids[i] else 25 for i in range(count)]
        if lowered.startswith("echo"):
            schema = pa.schema(
                [
                    (f"p{i + 1}", pa.int64() if oid in (20, 21, 23) else pa.string())
                    for i, oid in enumerate(oids)
                ]
            )
            return PreparedStatement(sql, oids, schema, "SELECT")
        if lowered.startswith(("rows", "fail late")):
            return PreparedStatement(sql, oids, ROWS_SCHEMA, "SELECT")
        if lowered in ("sleep", "explode"):
            return PreparedStatement(sql, oids, pa.schema([("x", pa.int64())]), "SELECT")
        if lowered in ("begin", "commit", "rollback"):
            return PreparedStatement(sql, oids, None, lowered.upper())
        if lowered.startswith("set "):
            return PreparedStatement(sql, oids, None, "SET")
        if lowered.startswith(("deallocate", "discard", "close")):
            words = lowered.split()
            tag = {"deallocate": "DEALLOCATE", "discard": "DISCARD", "close": "CLOSE CURSOR"}[words[0]]
            if words[0] == "discard" or words[-1] == "all":
                tag += " ALL"
            return PreparedStatement(sql, oids, None, tag)
        raise SqlSyntaxError(f"fake engine cannot run {text!r}")

    async def execute(
        self, statement: PreparedStatement, params: Sequence[object | None], result_formats: Sequence[int] | None = None
    ) -> FakeStream:
        text = statement.sql.strip().rstrip(";").strip()
        lowered = text.lower()
        if self.status == "E" and lowered not in ("rollback", "commit"):
            raise InFailedTransaction()
        if statement.command in ("BEGIN", "COMMIT", "ROLLBACK"):
            self.status = "T" if statement.command == "BEGIN" else "I"
            return FakeStream(None, None, statement.command, self.engine)
        if statement.command.startswith(("DEALLOCATE", "DISCARD", "CLOSE")):
            return FakeStream(None, None, statement.command, self.engine)
        if statement.command == "SET":
            name, value = re.match(r"set\s+(\w+)\s*=\s*(.+)", text, re.I).groups()  # type: ignore[union-attr]
            self.pending[name] = value.strip("'")
            return FakeStream(None, None, "SET", self.engine)
        if lowered == "explode":
            raise RuntimeError("unexpected failure inside the engine")
        if lowered == "sleep":
            return FakeStream(statement.schema, self._sleep(), "SELECT", self.engine)
        if lowered.startswith("echo"):
            assert statement.schema is not None
            batch = pa.record_batch(
                [pa.array([p], type=f.type) for p, f in zip(params, statement.schema, strict=True)],
                schema=statement.schema,
            )
            return FakeStream(statement.schema, _once(batch), "SELECT", self.engine)
        if lowered.startswith("fail late"):
            return FakeStream(ROWS_SCHEMA, self._fail_late(), "SELECT", self.engine)
        match = re.match(r"rows\s+(\d+)(?:\s+batch\s+(\d+))?", lowered)
        assert match is not None
        total, size = int(match.group(1)), int(match.group(2) or 1000)
        return FakeStream(ROWS_SCHEMA, _rows(total, size, self.engine), "SELECT", self.engine)

    async def _sleep(self) -> AsyncIterator[pa.RecordBatch]:
        await self.cancelled.wait()
        self.cancelled.clear()
        raise QueryCanceled()
        yield  # pragma: no cover

    async def _fail_late(self) -> AsyncIterator[pa.RecordBatch]:
        yield _batch(0, 10)
        raise VeilError("22012", "division by zero")

    def mark_failed(self) -> None:
        if self.status == "T":
            self.status = "E"

    def pending_parameter_status(self) -> dict[str, str]:
        pending, self.pending = self.pending, {}
        return pending

    def cancel(self) -> None:
        self.engine.cancels += 1
        self.cancelled.set()

    async def close(self) -> None:
        self.closed = True


def _batch(start: int, stop: int) -> pa.RecordBatch:
    ids = pa.array(range(start, stop), type=pa.int64())
    labels = pa.array([f"row {i}" for i in range(start, stop)])
    return pa.record_batch([ids, labels], schema=ROWS_SCHEMA)


async def _rows(total: int, size: int, engine: FakeEngine) -> AsyncIterator[pa.RecordBatch]:
    for start in range(0, total, size):
        engine.batches_pulled += 1
        yield _batch(start, min(total, start + size))


async def _once(batch: pa.RecordBatch) -> AsyncIterator[pa.RecordBatch]:
    yield batch


class FakeEngine:
    def __init__(self) -> None:
        self.sessions: list[FakeSession] = []
        self.open_streams = 0
        self.cancels = 0
        self.batches_pulled = 0
        self.refused_logins: list[tuple[str, str]] = []

    def audit_login(self, info: SessionInfo, error: VeilError) -> None:
        self.refused_logins.append((info.user, error.sqlstate))

    def open_session(self, info: SessionInfo) -> FakeSession:
        session = FakeSession(self, info)
        self.sessions.append(session)
        return session
