"""The rows a cursor has read, in order: PostgreSQL's tuplestore for a SCROLL cursor.

A scrollable cursor must be able to go back to any row it has passed, so it keeps them; like
PostgreSQL's tuplestore it keeps them in memory only up to a bound (``work_mem``, 4 MiB by
default) and writes the rest to a temporary file. The file is private (0600, in a 0700
directory under ``engine.temp_directory``) and unlinked as soon as it is created, so it is gone
when the cursor closes or the process ends, whatever the way. Each spilled batch is one Arrow IPC
stream at a recorded offset; reading rows back loads only the batches they lie in.

Re-running the query for backward moves was the alternative; it is not taken because a source's
result order is only deterministic under a total ORDER BY, which a cursor's query need not have.
"""

from __future__ import annotations

import bisect
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pyarrow as pa

from veil.private_files import private_directory

WORK_MEM = 4 * 1024 * 1024  # PostgreSQL's default work_mem


@dataclass
class _Spilled:
    offset: int
    length: int


@dataclass
class RowStore:
    """Append-only rows with random access by row number (0-based)."""

    schema: pa.Schema
    spill_directory: Path | None = None
    memory_limit: int | None = WORK_MEM  # None: all in memory (a NO SCROLL cursor's current FETCH)
    rows: int = 0  # rows appended so far
    memory: int = 0  # bytes of the batches held in memory
    _starts: list[int] = field(default_factory=list)  # first row of each batch
    _batches: list[pa.RecordBatch | _Spilled] = field(default_factory=list)
    _file: IO[bytes] | None = None
    _end: int = 0  # bytes written to the file

    @property
    def spilled(self) -> bool:
        return self._file is not None

    @property
    def held(self) -> int:
        """Rows still kept (in memory or in the file)."""
        return self.rows - self._starts[0] if self._starts else 0

    def append(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        self._starts.append(self.rows)
        self.rows += batch.num_rows
        size = batch.get_total_buffer_size()
        limit = self.memory_limit
        if self._file is None and (limit is None or self.memory + size <= limit):
            self._batches.append(batch)
            self.memory += size
            return
        self._batches.append(self._spill(batch))

    def _spill(self, batch: pa.RecordBatch) -> _Spilled:
        if self._file is None:
            directory = private_directory(self.spill_directory) if self.spill_directory else None
            self._file = tempfile.TemporaryFile(prefix="veil-cursor-", dir=directory)  # noqa: SIM115 (0600, unlinked; closed by close())
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, self.schema) as writer:
            writer.write_batch(batch)
        data = sink.getvalue()
        self._file.seek(self._end)
        self._file.write(data)
        spilled = _Spilled(self._end, data.size)
        self._end += data.size
        return spilled

    def _load(self, index: int) -> pa.RecordBatch:
        entry = self._batches[index]
        if isinstance(entry, pa.RecordBatch):
            return entry
        assert self._file is not None
        self._file.seek(entry.offset)
        return pa.ipc.open_stream(self._file.read(entry.length)).read_next_batch()

    def take(self, first: int, count: int) -> list[pa.RecordBatch]:
        """``count`` rows from row ``first`` on (fewer at the end), in order."""
        last = min(first + count, self.rows)
        if not self._starts or first < self._starts[0] or first >= last:
            return []
        out = []
        index = bisect.bisect_right(self._starts, first) - 1
        while index < len(self._starts) and self._starts[index] < last:
            batch = self._load(index)
            start = self._starts[index]
            low, high = max(first - start, 0), min(last - start, batch.num_rows)
            out.append(batch.slice(low, high - low) if (low, high) != (0, batch.num_rows) else batch)
            index += 1
        return out

    def drop_before(self, row: int) -> None:
        """Forget the batches that lie wholly before ``row`` (a NO SCROLL cursor's past)."""
        ends = [*self._starts[1:], self.rows]
        count = bisect.bisect_right(ends, row)
        for entry in self._batches[:count]:
            if isinstance(entry, pa.RecordBatch):
                self.memory -= entry.get_total_buffer_size()
        del self._starts[:count], self._batches[:count]

    def close(self) -> None:
        self._batches, self._starts, self.memory = [], [], 0
        if self._file is not None:
            self._file.close()
            self._file = None
