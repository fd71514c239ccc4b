"""Pick the encoder for a column from its PostgreSQL type and its Arrow layout.

The PostgreSQL type (``veil.pgfields.column_type_for_field``) decides what the client is told and
therefore the wire form; the Arrow type decides how the values are read. Types without a binary
encoder here (text-like types, nested lists reported as ``text``, unknown Arrow types) send
their text bytes in binary format too, which is exactly PostgreSQL's binary form for ``text``,
``varchar``, ``name``, ``json`` and friends.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from veil.errcodes import UndefinedFunction
from veil.pgtypes import (
    BY_OID,
    BYTEA,
    FLOAT4,
    JSONB,
    REG_VALUE,
    TEXT,
    TIMESTAMPTZ,
    UUID,
    ColumnType,
    column_type_for_arrow,
)
from veil.proxy.codec import arrays, jsontext, numeric, scalars, temporal
from veil.proxy.codec.cells import (
    ArrowCells,
    Cells,
    MatrixCells,
    big_endian,
    from_arrow,
    to_arrow,
    validity,
)
from veil.proxy.codec.columns import prepare
from veil.proxy.codec.floats import float_text
from veil.proxy.codec.interval import interval_binary, interval_text
from veil.proxy.codec.textbinary import SAME_AS_TEXT, binary_from_text

TEXT_FORMAT = 0
BINARY_FORMAT = 1


@dataclass(frozen=True)
class EncodeContext:
    """Session settings that change how values print."""

    timezone: str = "UTC"


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def _element_type(t: pa.DataType, column: ColumnType) -> ColumnType:
    element = column_type_for_arrow(t.value_type)
    if column.type.is_array and column.type.element_oid in scalars.INTEGER_WIRE and (
        pa.types.is_integer(t.value_type) or t.value_type == REG_VALUE
    ):
        # oid[], regproc[] ... held as Arrow integers or (OID, name) pairs: the declared element.
        return ColumnType(BY_OID[column.type.element_oid])
    declared = BY_OID.get(column.type.element_oid) if column.type.is_array else None
    if declared is not None and element.type.name == "text" and declared.oid != element.oid:
        # uuid[], varchar[], bpchar[] ... held as Arrow strings: the declared element's OID and
        # binary form (an array's header names its element type).
        return ColumnType(declared, column.typmod)
    if column.type.is_array and column.typmod != -1:
        return ColumnType(element.type, column.typmod)
    return element


def encode(column: pa.Array, pg: ColumnType, fmt: int, ctx: EncodeContext) -> Cells:
    """Cells of one column in the given format code."""
    if fmt == BINARY_FORMAT:
        return encode_binary(column, pg, ctx)
    return encode_text(column, pg, ctx)


def encode_text(column: pa.Array, pg: ColumnType, ctx: EncodeContext) -> Cells:
    arr = prepare(column)
    t = arr.type
    types = pa.types
    if types.is_null(t):
        return scalars.null_cells(len(arr))
    if t == REG_VALUE:  # a reg* value prints as its name
        return from_arrow(arr.flatten()[1])
    if types.is_boolean(t):
        return scalars.bool_text(arr)
    if types.is_integer(t):
        return scalars.integer_text(arr)
    if types.is_floating(t):
        return float_text(arr)
    if types.is_decimal(t):
        return numeric.numeric_text(arr)
    if types.is_string(t):
        return from_arrow(arr)
    if types.is_binary(t):
        return scalars.bytea_text(arr) if pg.oid == BYTEA.oid else from_arrow(arr)
    if types.is_fixed_size_binary(t):
        if pg.oid == UUID.oid and t.byte_width == 16:
            return scalars.uuid_text(arr)
        return scalars.bytea_text(arr)
    if types.is_date(t):
        return temporal.date_text(arr)
    if types.is_time(t):
        return temporal.time_text(arr)
    if types.is_timestamp(t):
        zone = ctx.timezone if pg.oid == TIMESTAMPTZ.oid else None
        return temporal.timestamp_text(arr, zone)
    if types.is_duration(t) or t == pa.month_day_nano_interval():
        return interval_text(arr)
    if _is_list(t):
        element = _element_type(t, pg)
        if pg.type.name in arrays.VECTOR_TYPES:
            return arrays.vector_text(arr, element, lambda a, c: encode_text(a, c, ctx))
        return arrays.array_text(arr, element, lambda a, c: encode_text(a, c, ctx))
    if types.is_struct(t) or types.is_map(t):
        return jsontext.json_text(column, lambda a, c: encode_text(a, c, ctx))
    return _fallback_text(arr)


def _fallback_text(arr: pa.Array) -> ArrowCells:
    """Arrow's own string cast, or Python's ``str`` for types Arrow cannot cast."""
    try:
        return from_arrow(pc.cast(arr, pa.string()))
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        values = [None if v is None else str(v) for v in arr.to_pylist()]
        return from_arrow(pa.array(values, pa.string()))


# Types PostgreSQL has no binary output function for (a binary result of them is an error there).
_NO_SEND = frozenset({"aclitem"})


def encode_binary(column: pa.Array, pg: ColumnType, ctx: EncodeContext) -> Cells:
    arr = prepare(column)
    t = arr.type
    types = pa.types
    oid = pg.oid
    unsendable = BY_OID.get(pg.type.element_oid) if pg.type.is_array else pg.type
    # PostgreSQL looks the send function up for the first row of a scalar column, and in
    # array_send (never called for a NULL array) for an array.
    sent = arr.null_count < len(arr) if pg.type.is_array else len(arr) > 0
    if unsendable is not None and unsendable.name in _NO_SEND and sent:
        raise UndefinedFunction(f"no binary output function available for type {unsendable.name}")
    if types.is_null(t):
        return scalars.null_cells(len(arr))
    if t == REG_VALUE:  # a reg* value is sent as its OID
        return scalars.integer_binary(arr.flatten()[0], ">u4")
    if types.is_boolean(t) and oid == 16:
        return scalars.bool_binary(arr)
    if types.is_integer(t):
        if oid in scalars.INTEGER_WIRE:
            return scalars.integer_binary(arr, scalars.INTEGER_WIRE[oid])
        if oid == 1700:
            return numeric.numeric_binary(arr)
    if types.is_floating(t) and oid in (700, 701):
        return scalars.float_binary(arr, ">f4" if oid == FLOAT4.oid else ">f8")
    if types.is_decimal(t) and oid == 1700:
        return numeric.numeric_binary(arr)
    if types.is_fixed_size_binary(t):
        return scalars.fixed_binary(arr)
    if types.is_binary(t):
        return from_arrow(arr)
    if types.is_string(t) and oid == UUID.oid:
        return scalars.uuid_binary_from_text(arr)
    if types.is_string(t) and pg.type.is_enum:  # enum_send: the label's bytes
        return from_arrow(arr)
    if types.is_string(t) and oid not in SAME_AS_TEXT and oid != JSONB.oid and oid != TEXT.oid:
        return ArrowCells(binary_from_text(arr, oid, pg.type))
    if types.is_date(t) and oid == 1082:
        return MatrixCells(big_endian(temporal.date_binary(arr), ">i4"), None, validity(arr))
    if types.is_time(t) and oid == 1083:
        return MatrixCells(big_endian(temporal.micros(arr), ">i8"), None, validity(arr))
    if types.is_timestamp(t) and oid in (1114, 1184):
        usecs = temporal.timestamp_binary(arr)
        return MatrixCells(big_endian(usecs, ">i8"), None, validity(arr))
    if (types.is_duration(t) or t == pa.month_day_nano_interval()) and oid == 1186:
        return interval_binary(arr)
    if _is_list(t) and pg.type.is_array:
        element = _element_type(t, pg)
        return arrays.array_binary(arr, element, lambda a, c: encode_binary(a, c, ctx))
    if _is_list(t) and pg.type.name in arrays.VECTOR_TYPES:
        # int2vectorsend/oidvectorsend: array_send of int2/oid elements.
        element = ColumnType(BY_OID[arrays.VECTOR_ELEMENTS[pg.type.name]])
        return arrays.array_binary(arr, element, lambda a, c: encode_binary(a, c, ctx), vector=True)
    text = encode_text(column, pg, ctx)
    if oid == JSONB.oid:
        return ArrowCells(pc.binary_join_element_wise(b"\x01", to_arrow(text), b""))
    return text
