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
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from veil.errors import ProtocolViolation
from veil.pgtypes import column_type_for_field
from veil.proxy.codec.cells import (
    ArrowCells,
    Cells,
    MatrixCells,
    big_endian,
    binary_array,
    offsets_of,
    to_arrow,
)
from veil.proxy.codec.dispatch import EncodeContext, encode

_MAX_CHUNK_BYTES = 1 << 30


def expand_formats(formats: Sequence[int], count: int) -> list[int]:
    """Per-column format codes from the protocol's 0, 1 or N codes."""
    if len(formats) == 0:
        return [0] * count
    if len(formats) == 1:
        codes = [formats[0]] * count
    elif len(formats) == count:
        codes = list(formats)
    else:
        raise ProtocolViolation(
            f"bind message has {len(formats)} result formats but query has {count} columns"
        )
    for code in codes:
        if code not in (0, 1):
            raise ProtocolViolation(f"unsupported format code: {code}")
    return codes


def row_description(schema: pa.Schema, formats: Sequence[int]) -> bytes:
    """The complete RowDescription ('T') message for a result schema."""
    codes = expand_formats(formats, len(schema))
    parts = [struct.pack("!h", len(schema))]
    for field, code in zip(schema, codes, strict=True):
        column = column_type_for_field(field)
        parts.append(field.name.encode("utf-8") + b"\0")
        parts.append(
            struct.pack("!ihihih", 0, 0, column.oid, column.type.length, column.typmod, code)
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
    codes = expand_formats(formats, batch.num_columns)
    context = EncodeContext(timezone=timezone)
    cells = [
        encode(batch.column(i), column_type_for_field(batch.schema.field(i)), codes[i], context)
        for i in range(batch.num_columns)
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
