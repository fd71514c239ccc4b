"""One-dimensional arrays (Arrow lists) in PostgreSQL's text and binary forms.

Elements are encoded as a whole column (the list's child array), then regrouped per row with
the list offsets, so an array column costs a few Arrow kernels regardless of its length.

Text (``array_out``): ``{1,2,NULL}``; an element is double-quoted when it is empty, spells
``NULL`` in any case, or contains ``{ } , " \\`` or whitespace, and inside quotes ``"`` and
``\\`` are backslash-escaped. Elements that are themselves arrays (nested lists, reported as
text) are never quoted.

Binary (``array_send``): int32 ndim (0 for an empty array), int32 has-nulls flag, int32 element
type OID, then per dimension int32 size and int32 lower bound (1), then each element as an int32
length (-1 for NULL) followed by its bytes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from veil.pgtypes import ColumnType
from veil.proxy.codec.cells import (
    ArrowCells,
    Cells,
    MatrixCells,
    big_endian,
    to_arrow,
    validity,
)
from veil.proxy.codec.columns import list_parts

Encoder = Callable[[pa.Array, ColumnType], Cells]

# Empty, NULL in any case, or containing a delimiter, brace, quote, backslash or whitespace.
_NEEDS_QUOTES = r'^$|^(?i:null)$|[{},"\\ \t\n\r\v\f]'
# Element types whose text never needs quoting (digits, signs, letters, dots, dashes).
_PLAIN_ELEMENTS = frozenset({16, 20, 21, 23, 26, 700, 701, 1700, 2950})


def _regroup(offsets: pa.Array, elements: pa.Array) -> pa.Array:
    if offsets.type == pa.int64():
        return pa.LargeListArray.from_arrays(offsets, elements)
    return pa.ListArray.from_arrays(offsets, elements)


def _with_nulls(arr: pa.Array, text: pa.Array) -> pa.Array:
    valid = validity(arr)
    if valid is None:
        return text
    return pc.if_else(pa.array(valid), text, pa.scalar(None, text.type))


def array_text(arr: pa.Array, element: ColumnType, encode: Encoder) -> ArrowCells:
    offsets, values = list_parts(arr)
    elements = to_arrow(encode(values, element))
    nested = element.type.is_array
    if not nested and element.oid not in _PLAIN_ELEMENTS and len(elements):
        elements = _quote(elements)
    elements = pc.fill_null(elements, pa.scalar(b"NULL", pa.binary()))
    joined = pc.binary_join(_regroup(offsets, elements), b",")
    text = pc.binary_join_element_wise(b"{", joined, b"}", b"")
    return ArrowCells(_with_nulls(arr, text).cast(pa.binary()))


#: int2vector and oidvector (pg_index.indkey ...) print as space-separated numbers: ``1 2``.
VECTOR_TYPES = frozenset({"int2vector", "oidvector"})
#: Their elements' type OIDs (int2, oid).
VECTOR_ELEMENTS = {"int2vector": 21, "oidvector": 26}


def vector_text(arr: pa.Array, element: ColumnType, encode: Encoder) -> ArrowCells:
    offsets, values = list_parts(arr)
    elements = pc.fill_null(to_arrow(encode(values, element)), pa.scalar(b"0", pa.binary()))
    text = pc.binary_join(_regroup(offsets, elements), b" ")
    return ArrowCells(_with_nulls(arr, text).cast(pa.binary()))


def _quote(elements: pa.Array) -> pa.Array:
    text = elements.cast(pa.string())
    needs = pc.match_substring_regex(text, _NEEDS_QUOTES)
    if not pc.any(needs).as_py():
        return elements
    escaped = pc.replace_substring_regex(text, r'(["\\])', r"\\\1")
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    return pc.if_else(needs, quoted, text).cast(pa.binary())


def array_binary(arr: pa.Array, element: ColumnType, encode: Encoder, vector: bool = False) -> ArrowCells:
    """array_send; ``vector``: int2vector/oidvector's, one dimension even when empty, from 0."""
    offsets, values = list_parts(arr)
    cells = encode(values, element)
    lengths = cells.lengths()
    prefix = to_arrow(MatrixCells(big_endian(lengths, ">i4")))
    data = pc.fill_null(to_arrow(cells), pa.scalar(b"", pa.binary()))
    items = pc.binary_join_element_wise(prefix, data, b"")
    body = pc.binary_join(_regroup(offsets, items), b"")

    bounds = offsets.to_numpy().astype(np.int64)
    counts = np.diff(bounds)
    null_total = np.concatenate([[0], np.cumsum(lengths < 0)])
    has_null = (null_total[bounds[1:]] - null_total[bounds[:-1]]) > 0
    rows = len(arr)
    header = np.empty((rows, 20), dtype=np.uint8)
    dimensional = np.ones(rows, dtype=bool) if vector else counts > 0
    header[:, 0:4] = big_endian(dimensional.astype(np.int64), ">i4")
    header[:, 4:8] = big_endian(has_null.astype(np.int64), ">i4")
    header[:, 8:12] = big_endian(np.full(rows, element.oid), ">i4")
    header[:, 12:16] = big_endian(counts, ">i4")
    header[:, 16:20] = big_endian(np.full(rows, 0 if vector else 1, dtype=np.int64), ">i4")
    keep = np.ones((rows, 20), dtype=bool)
    keep[:, 12:] = dimensional[:, None]
    heads = to_arrow(MatrixCells(header, keep))
    out = pc.binary_join_element_wise(heads, body, b"")
    return ArrowCells(_with_nulls(arr, out))
