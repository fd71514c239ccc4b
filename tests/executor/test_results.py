"""Result streams: the first thread hop reads a small result to its end."""

from __future__ import annotations

import pyarrow as pa
import pytest

from veil.errors import VeilError
from veil.executor.results import PEEK_ROWS, Head, ReaderStream, read_head

SCHEMA = pa.schema([pa.field("id", pa.int64())])


class CountingReader:
    """A RecordBatchReader stand-in that counts reads and can fail on one."""

    def __init__(self, sizes: list[int], fail_at: int | None = None) -> None:
        self.batches = [pa.RecordBatch.from_pydict({"id": list(range(n))}, schema=SCHEMA) for n in sizes]
        self.reads = 0
        self.fail_at = fail_at

    def read_next_batch(self) -> pa.RecordBatch:
        self.reads += 1
        if self.fail_at is not None and self.reads == self.fail_at:
            raise RuntimeError("source failed")
        if not self.batches:
            raise StopIteration
        return self.batches.pop(0)


@pytest.mark.parametrize(
    ("sizes", "head_rows", "complete", "reads"),
    [
        ([], [], True, 1),
        ([1], [1], True, 2),
        ([0], [0], True, 2),
        ([3, 4], [3, 4], False, 2),
        ([PEEK_ROWS + 1, 2], [PEEK_ROWS + 1], False, 1),
    ],
)
def test_read_head(sizes: list[int], head_rows: list[int], complete: bool, reads: int) -> None:
    reader = CountingReader(sizes)
    head = read_head(reader)  # type: ignore[arg-type]
    assert [b.num_rows for b in head.batches] == head_rows
    assert head.complete is complete
    assert reader.reads == reads


async def _drain(stream: ReaderStream) -> list[int]:
    return [batch.num_rows async for batch in stream]


@pytest.mark.parametrize("sizes", [[], [1], [0], [2, 3], [PEEK_ROWS + 1, 5, 0, 7]])
async def test_stream_yields_every_row_and_closes(sizes: list[int]) -> None:
    reader = CountingReader(sizes)
    closed: list[bool] = []
    head = read_head(reader)  # type: ignore[arg-type]
    stream = ReaderStream(SCHEMA, reader, head, lambda: closed.append(True), lambda e: VeilError("XX000", str(e)))  # type: ignore[arg-type]
    assert await _drain(stream) == [n for n in sizes if n]
    assert closed == [True]
    if head.complete:
        assert reader.reads == len(sizes) + 1  # nothing read after the head


async def test_stream_accepts_a_plain_first_batch() -> None:
    reader = CountingReader([2, 3])
    first = reader.read_next_batch()
    stream = ReaderStream(SCHEMA, reader, first, lambda: None, lambda e: VeilError("XX000", str(e)))  # type: ignore[arg-type]
    assert await _drain(stream) == [2, 3]
    empty = ReaderStream(SCHEMA, CountingReader([4]), None, lambda: None, lambda e: VeilError("XX000", str(e)))  # type: ignore[arg-type]
    assert await _drain(empty) == [4]


async def test_stream_maps_errors_after_the_head() -> None:
    reader = CountingReader([2, 3, 4], fail_at=3)
    head = read_head(reader)  # type: ignore[arg-type]
    assert head == Head(head.batches, False)
    stream = ReaderStream(SCHEMA, reader, head, lambda: None, lambda e: VeilError("XX000", str(e)))  # type: ignore[arg-type]
    seen = []
    with pytest.raises(VeilError, match="source failed"):
        async for batch in stream:
            seen.append(batch.num_rows)
    assert seen == [2, 3]
