"""Bring any Arrow column into the few physical layouts the encoders understand.

The PostgreSQL type is decided from the *original* field (extension names such as
``arrow.uuid`` matter there); encoding then works on plain storage: dictionaries decoded,
run-end encoding expanded, views and large variants cast to their 32-bit-offset forms, half
floats widened. Those casts copy, but only for layouts that need them.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def prepare(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A single contiguous array in an encoder-friendly physical layout."""
    arr = _single(column)
    while True:
        t = arr.type
        if isinstance(t, pa.BaseExtensionType):
            arr = arr.storage
        elif pa.types.is_dictionary(t):
            arr = arr.dictionary_decode()
        elif pa.types.is_run_end_encoded(t):
            arr = pc.run_end_decode(arr)
        elif pa.types.is_string_view(t) or pa.types.is_large_string(t):
            arr = pc.cast(arr, pa.string())
        elif pa.types.is_binary_view(t) or pa.types.is_large_binary(t):
            arr = pc.cast(arr, pa.binary())
        elif pa.types.is_list_view(t):
            arr = pc.cast(arr, pa.list_(t.value_field))
        elif pa.types.is_large_list_view(t):
            arr = pc.cast(arr, pa.large_list(t.value_field))
        elif pa.types.is_float16(t):
            arr = pc.cast(arr, pa.float32())
        else:
            return arr


def is_json_extension(arrow_type: pa.DataType) -> bool:
    """An Arrow JSON extension type (its storage already holds JSON text)."""
    return getattr(arrow_type, "extension_name", "") in ("arrow.json", "duckdb.json")


def _single(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks == 1:
            return column.chunk(0)
        return column.combine_chunks()
    return column


def list_parts(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(int32/int64 offsets rebased to 0, the child values they index) of a list-like array.

    NULL lists keep whatever range their offsets give (usually empty); callers mask them.
    """
    t = arr.type
    if pa.types.is_fixed_size_list(t):
        size = t.list_size
        start = arr.offset * size
        values = arr.values.slice(start, len(arr) * size)
        offsets = pa.array(range(0, (len(arr) + 1) * size, size), pa.int32())
        return offsets, values
    offsets = arr.offsets
    first = offsets[0].as_py()
    last = offsets[len(arr)].as_py()
    values = arr.values.slice(first, last - first)
    if first:
        offsets = pc.subtract(offsets, pa.scalar(first, offsets.type))
    return offsets, values
