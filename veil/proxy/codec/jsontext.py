"""Structs, maps and lists rendered as compact JSON text, the way ``to_json`` prints them.

Veil reports Arrow structs and maps as ``json``. The text is built column-wise: each child is
converted to JSON for all rows at once, then children are glued with Arrow string joins.
Scalars follow ``to_json``: numbers bare (``NaN``/``Infinity`` quoted), booleans ``true``/
``false``, timestamps ISO 8601 with a ``T`` (``+00:00`` offsets for ``timestamptz``), other
types as their PostgreSQL text in a JSON string, NULL as ``null``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from veil.pgtypes import TIMESTAMP, TIMESTAMPTZ, ColumnType, column_type_for_arrow
from veil.proxy.codec.cells import ArrowCells, Cells, data_of, to_arrow, validity
from veil.proxy.codec.columns import is_json_extension, list_parts, prepare

Encoder = Callable[[pa.Array, ColumnType], Cells]

_SHORT_ESCAPES = {0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}


def json_text(arr: pa.Array, encode_text: Encoder) -> ArrowCells:
    """JSON text of a struct/map (or any) column; NULL rows stay NULL."""
    return ArrowCells(_json(arr, encode_text).cast(pa.binary()))


def _json(column: pa.Array, encode_text: Encoder) -> pa.Array:
    """A string array of JSON values; null where the input is null."""
    if is_json_extension(column.type):
        return prepare(column).cast(pa.string())
    arr = prepare(column)
    t = arr.type
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_struct(t):
        return _struct(arr, encode_text)
    if pa.types.is_map(t):
        return _map(arr, encode_text)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        offsets, values = list_parts(arr)
        items = pc.fill_null(_json(values, encode_text), "null")
        grouped = (pa.LargeListArray if offsets.type == pa.int64() else pa.ListArray).from_arrays(
            offsets, items
        )
        joined = pc.binary_join(grouped, ",")
        return _keep_nulls(arr, pc.binary_join_element_wise("[", joined, "]", ""))
    if pa.types.is_boolean(t):
        return pc.if_else(arr, "true", "false")
    if pa.types.is_integer(t) or pa.types.is_decimal(t):
        return _text(arr, encode_text)
    if pa.types.is_floating(t):
        text = _text(arr, encode_text)
        finite = pc.is_finite(arr)
        return pc.if_else(finite, text, pc.binary_join_element_wise('"', text, '"', ""))
    if pa.types.is_string(t):
        return quote(arr)
    text = _text(arr, encode_text)
    if pa.types.is_timestamp(t):
        text = pc.replace_substring(text, " ", "T", max_replacements=1)
        if t.tz is not None:
            text = pc.replace_substring_regex(text, r"([+-]\d\d)$", r"\1:00")
    return quote(text)


def _text(arr: pa.Array, encode_text: Encoder) -> pa.Array:
    column_type = column_type_for_arrow(arr.type)
    if pa.types.is_timestamp(arr.type):
        column_type = ColumnType(TIMESTAMPTZ if arr.type.tz is not None else TIMESTAMP)
    return to_arrow(encode_text(arr, column_type)).cast(pa.string())


def _keep_nulls(arr: pa.Array, text: pa.Array) -> pa.Array:
    valid = validity(arr)
    if valid is None:
        return text
    return pc.if_else(pa.array(valid), text, pa.scalar(None, pa.string()))


def _struct(arr: pa.StructArray, encode_text: Encoder) -> pa.Array:
    t = arr.type
    if t.num_fields == 0:
        return _keep_nulls(arr, pa.array(["{}"] * len(arr)))
    pieces: list[pa.Array | str] = []
    for index, child in enumerate(arr.flatten()):
        key = json.dumps(t.field(index).name, ensure_ascii=False)
        pieces.append(("{" if index == 0 else ",") + key + ":")
        pieces.append(pc.fill_null(_json(child, encode_text), "null"))
    pieces.append("}")
    return _keep_nulls(arr, pc.binary_join_element_wise(*pieces, ""))


def _map(arr: pa.MapArray, encode_text: Encoder) -> pa.Array:
    offsets, entries = list_parts(arr)
    keys = _json(entries.field(0), encode_text)
    if not pa.types.is_string(prepare(entries.field(0)).type):
        keys = quote(keys)
    values = pc.fill_null(_json(entries.field(1), encode_text), "null")
    items = pc.binary_join_element_wise(keys, values, ":")
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, items), ",")
    return _keep_nulls(arr, pc.binary_join_element_wise("{", joined, "}", ""))


def quote(text: pa.Array) -> pa.Array:
    """JSON string literals (``escape_json``): quotes, backslashes and control characters."""
    text = text.cast(pa.string())
    data = data_of(text)
    specials = np.unique(data[(data < 0x20) | (data == 0x22) | (data == 0x5C)])
    if len(specials):
        text = pc.replace_substring(text, "\\", "\\\\")
        text = pc.replace_substring(text, '"', '\\"')
        for code in specials.tolist():
            if code < 0x20:
                escape = _SHORT_ESCAPES.get(code, f"\\u{code:04x}")
                text = pc.replace_substring(text, chr(code), escape)
    return pc.binary_join_element_wise('"', text, '"', "")
