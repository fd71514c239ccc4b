"""SQL cursors over a result stream: PostgreSQL's FETCH/MOVE positions, and reading the stream
only as far as asked (a cursor over a big result never holds it all)."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pyarrow as pa
import pytest

from veil.errors import VeilError
from veil.executor.cursors import Cursor
from veil.sql.utility_specs import FETCH_ALL, CursorSpec, FetchSpec

SCHEMA = pa.schema([pa.field("n", pa.int64())])


class CountingStream:
    """A result stream of ``batches`` batches of 10 rows that records how many were pulled."""

    def __init__(self, batches: int) -> None:
        self.schema = SCHEMA
        self.total = batches
        self.pulled = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[pa.RecordBatch]:
        for index in range(self.total):
            self.pulled += 1
            yield pa.record_batch([pa.array(range(index * 10 + 1, index * 10 + 11), pa.int64())], schema=SCHEMA)

    def command_tag(self, rows_sent: int) -> str:
        return f"SELECT {rows_sent}"

    async def close(self) -> None:
        self.closed = True


def _values(batches: list[pa.RecordBatch]) -> list[int]:
    return [v for b in batches for v in b.column(0).to_pylist()]


def _cursor(stream: CountingStream, scroll: bool = False, **options: object) -> Cursor:
    spec = CursorSpec("c", scroll=scroll, hold=False, binary=False)
    return Cursor(spec, stream, SCHEMA, **options)  # type: ignore[arg-type]


def fetch(direction: str, count: int, move: bool = False) -> FetchSpec:
    return FetchSpec("c", direction, count, move)


async def test_forward_fetch_reads_only_what_it_returns() -> None:
    stream = CountingStream(1000)
    cursor = _cursor(stream)
    rows, count = await cursor.run(fetch("forward", 15))
    assert _values(rows) == list(range(1, 16)) and count == 15
    assert stream.pulled == 2
    rows, _ = await cursor.run(fetch("forward", 3))
    assert _values(rows) == [16, 17, 18]
    assert stream.pulled == 2
    _, moved = await cursor.run(fetch("forward", 100, move=True))
    assert moved == 100 and cursor.position == 118 and stream.pulled == 12
    assert cursor.store.held <= 10 and not cursor.store.spilled  # forgotten once passed (NO SCROLL)
    await cursor.close()
    assert stream.closed


async def test_fetch_all_and_past_the_end() -> None:
    cursor = _cursor(CountingStream(3))
    rows, count = await cursor.run(fetch("forward", FETCH_ALL))
    assert _values(rows) == list(range(1, 31)) and count == 30
    rows, count = await cursor.run(fetch("forward", 1))
    assert rows == [] and count == 0 and cursor.position == 31


async def test_scroll_cursor_moves_like_postgres() -> None:
    cursor = _cursor(CountingStream(2), scroll=True)
    assert _values((await cursor.run(fetch("forward", 3)))[0]) == [1, 2, 3]
    assert _values((await cursor.run(fetch("backward", 1)))[0]) == [2]  # PRIOR
    assert _values((await cursor.run(fetch("absolute", -1)))[0]) == [20]  # LAST
    assert _values((await cursor.run(fetch("relative", -2)))[0]) == [18]
    assert _values((await cursor.run(fetch("backward", 3)))[0]) == [17, 16, 15]
    assert _values((await cursor.run(fetch("absolute", 1)))[0]) == [1]  # FIRST
    assert (await cursor.run(fetch("backward", FETCH_ALL)))[1] == 0 and cursor.position == 0
    assert _values((await cursor.run(fetch("forward", 2)))[0]) == [1, 2]


async def test_no_scroll_cursor_refuses_to_go_back() -> None:
    cursor = _cursor(CountingStream(2))
    await cursor.run(fetch("forward", 5))
    for spec in (fetch("backward", 1), fetch("absolute", 2), fetch("relative", -1)):
        with pytest.raises(VeilError) as info:
            await cursor.run(spec)
        assert info.value.sqlstate == "55000"


async def test_scroll_cursor_spills_beyond_its_memory_bound_to_a_private_file(tmp_path: Path) -> None:
    """A SCROLL cursor keeps what it has read (to go back), but beyond its bound (work_mem) in a
    temporary file: memory stays bounded, every row comes back right, the file is 0600 in a 0700
    directory, unlinked from the start and closed with the cursor."""
    batch_bytes = 10 * 8
    spill = tmp_path / "spill" / "cursors"
    cursor = _cursor(CountingStream(5000), scroll=True, spill_directory=spill, memory_limit=30 * batch_bytes)
    _, moved = await cursor.run(fetch("forward", FETCH_ALL, move=True))
    store = cursor.store
    assert moved == 50000 and store.held == 50000 and store.spilled
    assert store.memory <= 30 * batch_bytes
    assert _values((await cursor.run(fetch("absolute", 1)))[0]) == [1]
    assert _values((await cursor.run(fetch("absolute", 40005)))[0]) == [40005]
    assert _values((await cursor.run(fetch("backward", 12)))[0]) == list(range(40004, 39992, -1))
    assert _values((await cursor.run(fetch("forward", 25)))[0]) == list(range(39994, 40019))
    assert _values((await cursor.run(fetch("absolute", -1)))[0]) == [50000]
    assert stat.S_IMODE(spill.stat().st_mode) == 0o700 and list(spill.iterdir()) == []  # unlinked
    spilled = [fd for fd in Path("/proc/self/fd").iterdir() if _link(fd).startswith(str(spill))]
    assert len(spilled) == 1 and _link(spilled[0]).endswith("(deleted)")
    assert stat.S_IMODE(os.stat(spilled[0]).st_mode) == 0o600
    await cursor.close()
    assert not any(_link(fd).startswith(str(spill)) for fd in Path("/proc/self/fd").iterdir())


def _link(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except OSError:
        return ""


async def test_no_scroll_cursor_never_spills(tmp_path: Path) -> None:
    cursor = _cursor(CountingStream(5000), spill_directory=tmp_path, memory_limit=80)
    for _ in range(100):
        await cursor.run(fetch("forward", 499))
    assert cursor.store.held <= 10 and not cursor.store.spilled and cursor.position == 49900
