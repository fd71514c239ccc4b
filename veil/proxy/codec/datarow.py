"""RowDescription and DataRow messages for whole Arrow record batches.

``encode_data_rows`` turns every column into cells (see :mod:`.cells`), then lays the messages
out without a per-row loop. A DataRow is ``'D'``, int32 length, int16 column count, then per
column an int32 length (-1 for NULL) and the value bytes. Consecutive fixed-width pieces -- the
row header, every length prefix, every dense matrix of values -- are placed side by side in one
byte matrix; variable-length values (strings, casts, trimmed or NULL-bearing matrices) become
Arrow arrays between such runs, and one ``binary_join_element_wise`` glues each row's pieces.
The joined array's data buffer is exactly the concatenated messages. A batch whose messages
would not fit 32-bit Arrow offsets is assembled in row ranges.
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Sequence
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from veil.pgfields import column_type_for_field
from veil.pgtypes import column_origin
from veil.proxy.codec.cells import (
    ArrowCells,
    Cells,
    MatrixCells,
    big_endian,
    binary_array,
    offsets_of,
    to_arrow,
)
from veil.proxy.codec.columns import prepare
from veil.proxy.codec.dispatch import encode
from veil.proxy.codec.plan import BatchPlan, expand_formats, plan_for

__all__ = ["SMALL_BATCH_ROWS", "encode_data_rows", "expand_formats", "row_description"]

_MAX_CHUNK_BYTES = 1 << 30
#: Batches of at most this many rows take the row path (see :mod:`.rowpath`).
SMALL_BATCH_ROWS = 8
_I32 = struct.Struct("!i").pack
_I16 = struct.Struct("!h").pack
_NULL_CELL = _I32(-1)
#: DataRows of small batches already sent, by batch identity, for as long as the batch lives
#: (a weak reference drops the entry with it): a latency-cache hit hands the wire the very same
#: immutable batch again, whose rows need not be encoded again (encoding was a third of a
#: cached point query's time in Veil). Only small results whose buffers are small too (not a
#: slice of a big batch) are kept, and at most _ENCODED_ENTRIES of them.
_ENCODED_ENTRIES = 16384
_ENCODED_MAX_BYTES = 4096
_ENCODED_MAX_BUFFERS = 65536
_encoded: dict[tuple[int, tuple[int, ...], str], tuple[weakref.ref[pa.RecordBatch], bytes]] = {}


def row_description(schema: pa.Schema, formats: Sequence[int]) -> bytes:
    """The complete RowDescription ('T') message for a result schema."""
    codes = expand_formats(formats, len(schema))
    parts = [struct.pack("!h", len(schema))]
    for field, code in zip(schema, codes, strict=True):
        column = column_type_for_field(field)
        parts.append(field.name.encode("utf-8") + b"\0")
        table_oid, attnum = column_origin(field)
        parts.append(
            struct.pack(
                "!IhIhih", table_oid, attnum, column.oid, column.type.length, column.typmod, code
            )
        )
    body = b"".join(parts)
    return b"T" + struct.pack("!i", len(body) + 4) + body


def encode_data_rows(
    batch: pa.RecordBatch, formats: Sequence[int], timezone: str = "UTC"
) -> memoryview:
    """All DataRow ('D') messages of the batch, concatenated, ready to write to a socket."""
    rows = batch.num_rows
    if rows == 0:
        return memoryview(b"")
    if rows > SMALL_BATCH_ROWS:
        return encode_vectorised(batch, plan_for(batch.schema, formats, timezone))
    key = (id(batch), tuple(formats), timezone)
    known = _encoded.get(key)
    if known is not None and known[0]() is batch:
        return memoryview(known[1])
    data = encode_small(batch, plan_for(batch.schema, formats, timezone))
    if (
        len(data) <= _ENCODED_MAX_BYTES
        and len(_encoded) < _ENCODED_ENTRIES
        and batch.get_total_buffer_size() <= _ENCODED_MAX_BUFFERS
    ):
        _encoded[key] = (weakref.ref(batch, partial(_forget, key)), data)
    return memoryview(data)


def _forget(key: tuple[int, tuple[int, ...], str], _: object) -> None:
    _encoded.pop(key, None)  # the batch is gone (its id may be reused from now on)


def encode_vectorised(batch: pa.RecordBatch, plan: BatchPlan) -> memoryview:
    """The DataRows of a batch of any size, without a per-value Python loop."""
    rows = batch.num_rows
    if rows == 0:
        return memoryview(b"")
    cells = [
        encode(batch.column(i), column.pg, column.fmt, plan.context)
        for i, column in enumerate(plan.columns)
    ]
    lengths = [c.lengths() for c in cells]
    row_bytes = np.full(rows, 7, dtype=np.int64)
    for column_lengths in lengths:
        row_bytes += 4 + np.maximum(column_lengths, 0)
    if int(row_bytes.sum()) <= _MAX_CHUNK_BYTES:
        return _assemble(cells, lengths, row_bytes)
    ends = np.cumsum(row_bytes)
    out = bytearray()
    start = 0
    while start < rows:
        base = int(ends[start - 1]) if start else 0
        stop = int(np.searchsorted(ends, base + _MAX_CHUNK_BYTES, side="right"))
        stop = max(stop, start + 1)
        part = [_slice(c, start, stop) for c in cells]
        out += _assemble(part, [ln[start:stop] for ln in lengths], row_bytes[start:stop])
        start = stop
    return memoryview(out)


def encode_small(batch: pa.RecordBatch, plan: BatchPlan) -> bytes:
    """The DataRows of a batch of a few rows: cells per value (row path), rows joined in Python.

    Columns the row path does not handle (or whose values it declines) are encoded by the
    vectorised encoders and then cut into per-row cells.
    """
    columns: list[list[bytes | None]] = []
    for i, column in enumerate(plan.columns):
        array = batch.column(i)
        cells = None
        if column.cells is not None:
            cells = column.cells(array if column.plain else prepare(array))
        if cells is None:
            cells = cell_list(encode(array, column.pg, column.fmt, plan.context))
        columns.append(cells)
    count = _I16(len(columns))
    messages = []
    for row in range(batch.num_rows):
        body = [count]
        for cells in columns:
            value = cells[row]
            if value is None:
                body.append(_NULL_CELL)
            else:
                body.append(_I32(len(value)))
                body.append(value)
        data = b"".join(body)
        messages.append(b"D" + _I32(len(data) + 4) + data)
    return b"".join(messages)


def cell_list(cells: Cells) -> list[bytes | None]:
    """Encoded cells as one bytes object (or None) per row."""
    if isinstance(cells, ArrowCells):
        array = cells.array
        if not pa.types.is_binary(array.type):
            array = array.cast(pa.binary())
        return array.to_pylist()
    data = cells.data
    lengths = cells.lengths().tolist()
    out: list[bytes | None] = []
    for row, length in enumerate(lengths):
        if length < 0:
            out.append(None)
        elif cells.mask is not None:
            out.append(data[row][cells.mask[row]].tobytes())
        else:
            out.append(data[row, :length].tobytes())
    return out


def _slice(cells: Cells, start: int, stop: int) -> Cells:
    if isinstance(cells, ArrowCells):
        return ArrowCells(cells.array.slice(start, stop - start))
    return MatrixCells(
        cells.data[start:stop],
        None if cells.mask is None else cells.mask[start:stop],
        None if cells.valid is None else cells.valid[start:stop],
        None if cells.widths is None else cells.widths[start:stop],
    )


class _Run:
    """Dense matrix blocks side by side: one fixed-width Arrow binary array."""

    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []

    def add(self, block: np.ndarray) -> None:
        self.blocks.append(block)

    def matrix(self) -> np.ndarray:
        if len(self.blocks) == 1:
            return np.ascontiguousarray(self.blocks[0], dtype=np.uint8)
        return np.concatenate(self.blocks, axis=1)

    def array(self) -> pa.Array:
        matrix = self.matrix()
        rows, width = matrix.shape
        offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int32)
        return binary_array(offsets, matrix.reshape(-1))


def _assemble(cells: list[Cells], lengths: list[np.ndarray], row_bytes: np.ndarray) -> memoryview:
    rows = len(row_bytes)
    header = np.empty((rows, 7), dtype=np.uint8)
    header[:, 0] = ord("D")
    header[:, 1:5] = big_endian(row_bytes - 1, ">i4")
    header[:, 5:7] = np.frombuffer(struct.pack("!h", len(cells)), dtype=np.uint8)
    run = _Run()
    run.add(header)
    parts: list[pa.Array] = []
    for column, column_lengths in zip(cells, lengths, strict=True):
        run.add(big_endian(column_lengths, ">i4"))
        if isinstance(column, MatrixCells) and column.dense:
            run.add(column.data)
            continue
        parts.append(run.array())
        parts.append(to_arrow(column))
        run = _Run()
    if not parts:
        return run.matrix().reshape(-1).data
    if run.blocks:
        parts.append(run.array())
    joined = pc.binary_join_element_wise(*parts, b"", null_handling="replace", null_replacement=b"")
    offsets = offsets_of(joined)
    data = joined.buffers()[2]
    return memoryview(data).cast("B")[int(offsets[0]) : int(offsets[-1])]
