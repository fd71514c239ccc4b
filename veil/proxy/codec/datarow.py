"""RowDescription and DataRow messages for whole Arrow record batches.

``encode_data_rows`` turns every column into cells (see :mod:`.cells`), then lays the messages
out without a per-row loop. A DataRow is ``'D'``, int32 length, int16 column count, then per
column an int32 length (-1 for NULL) and the value bytes. Consecutive matrix-shaped pieces --
the row header, every length prefix, every fixed-width or digit-assembled value -- are placed
side by side in one byte matrix and compacted with a mask; the few Arrow-shaped values (strings,
casts) sit between such runs, and one ``binary_join_element_wise`` glues each row's pieces.
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
    pack_matrix,
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
    )


class _Run:
    """Side-by-side matrix blocks that become one Arrow binary array."""

    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []
        self.masks: list[np.ndarray | None] = []

    def add(self, block: np.ndarray, mask: np.ndarray | None = None) -> None:
        self.blocks.append(block)
        self.masks.append(mask)

    def pack(self) -> tuple[np.ndarray, np.ndarray]:
        data = np.concatenate(self.blocks, axis=1) if len(self.blocks) > 1 else self.blocks[0]
        mask = None
        if any(m is not None for m in self.masks):
            mask = np.concatenate(
                [
                    np.ones(b.shape, dtype=bool) if m is None else m
                    for b, m in zip(self.blocks, self.masks, strict=True)
                ],
                axis=1,
            )
        return pack_matrix(np.ascontiguousarray(data, dtype=np.uint8), mask)


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
        if isinstance(column, MatrixCells):
            run.add(column.data, column.effective_mask())
            continue
        parts.append(_run_array(run))
        parts.append(column.array)
        run = _Run()
    if run.blocks:
        if not parts:
            _, data = run.pack()
            return memoryview(data)
        parts.append(_run_array(run))
    joined = pc.binary_join_element_wise(
        *parts, b"", null_handling="replace", null_replacement=b""
    )
    offsets = offsets_of(joined)
    data = joined.buffers()[2]
    return memoryview(data).cast("B")[int(offsets[0]) : int(offsets[-1])]


def _run_array(run: _Run) -> pa.Array:
    offsets, data = run.pack()
    return binary_array(offsets.astype(np.int32), data)
