"""SQL cursors over a result stream: PostgreSQL's FETCH/MOVE positions, and reading the stream
only as far as asked (a cursor over a big result never holds it all)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pyarrow as pa
import pytest

from veil.engine.cursors import Cursor
from veil.engine.utility_specs import FETCH_ALL, CursorSpec, FetchSpec
from veil.errors import VeilError

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


def _cursor(stream: CountingStream, scroll: bool = False) -> Cursor:
    return Cursor(CursorSpec("c", scroll=scroll, hold=False, binary=False), stream, SCHEMA)  # type: ignore[arg-type]


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
    assert sum(b.num_rows for b in cursor._rows) <= 10  # forgotten once passed (NO SCROLL)
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
