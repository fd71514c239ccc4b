"""Turning DuckDB's Arrow results into what RowDescription promises.

Each output column gets PostgreSQL's name and the PostgreSQL type inferred for it (pinned in
the Arrow field metadata) when DuckDB's data can carry it; otherwise the type follows from the
Arrow type. ``reg*`` columns arrive as OIDs and leave as (OID, name) pairs
(:data:`veil.pgtypes.REG_VALUE`): PostgreSQL sends the OID in binary format and the name it
prints in text format.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from veil.pgcatalog.arrays import format_array_literal
from veil.pgcatalog.infer import OutputColumn
from veil.pgcatalog.localtypes import is_text_form
from veil.pgcatalog.schema import REG_TYPES
from veil.pgfields import pinned_field
from veil.pgtypes import BY_OID, NUMERIC, REG_VALUE, ColumnType, column_type_for_arrow

_INTS = {"int2": pa.int16(), "int4": pa.int32(), "int8": pa.int64(), "oid": pa.uint32(),
         "xid": pa.uint32(), "cid": pa.uint32()}
_FLOATS = {"float4": pa.float32(), "float8": pa.float64()}
_STRINGS = {"text", "varchar", "bpchar", "name", "char", "json", "jsonb", "unknown", "void",
            "pg_node_tree", "inet", "pg_lsn", "aclitem", "uuid", "xml", "anyarray"}


def _family(arrow_type: pa.DataType) -> str:
    t = pa.types
    if t.is_integer(arrow_type):
        return "int"
    if t.is_floating(arrow_type):
        return "float"
    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or t.is_string_view(arrow_type):
        return "string"
    if t.is_boolean(arrow_type):
        return "bool"
    if t.is_list(arrow_type) or t.is_large_list(arrow_type):
        return "list"
    return str(arrow_type)


def _target(pg: ColumnType, actual: pa.DataType) -> pa.DataType | None:
    """The Arrow type for a value of ``pg`` given DuckDB's ``actual``; None if incompatible."""
    name = pg.type.name
    family = _family(actual)
    if name in REG_TYPES:
        return REG_VALUE if family == "int" else None
    exact = pa.types.is_decimal(actual) and actual.scale == 0
    if name in _INTS:
        return _INTS[name] if family == "int" or exact else None
    if name in _FLOATS:
        return _FLOATS[name] if family in ("int", "float") or pa.types.is_decimal(actual) else None
    if name == "bool":
        return actual if family == "bool" else None
    if name in _STRINGS or is_text_form(pg):
        return pa.string() if family == "string" else None
    if name == "numeric":
        if family == "int":
            return pa.decimal128(38, 0)
        if family == "string":  # a quotient printed at PostgreSQL's scale (pgnumeric)
            return pa.string()
        return actual if pa.types.is_decimal(actual) else None
    if pg.type.is_array or name in ("int2vector", "oidvector"):
        if family == "string" and pg.type.element_oid == NUMERIC.oid:  # printed per element (pgnumeric)
            return pa.string()
        if family != "list":
            return None
        element = BY_OID[pg.type.element_oid] if pg.type.is_array else None
        if element is None:
            return actual
        inner = _target(ColumnType(element), actual.value_type)
        return pa.list_(inner) if inner is not None else None
    if family in ("int", "float", "string", "bool", "list"):
        return None
    return actual


def result_schema(columns: Sequence[OutputColumn] | None, duck: pa.Schema) -> pa.Schema:
    fields = []
    usable = columns is not None and len(columns) == len(duck)
    for index, field in enumerate(duck):
        name, pg = field.name, None
        if usable and columns is not None:
            name, pg = columns[index].name, columns[index].type
        arrow = _target(pg, field.type) if pg is not None else None
        if pg is None or arrow is None:
            fallback = column_type_for_arrow(field.type)
            arrow, pg = (pa.string() if fallback.type.name == "text" and _family(field.type) == "list"
                         else field.type), fallback
        if pg.type.name == "unknown":
            pg = ColumnType(BY_OID[25])
        fields.append(pinned_field(name, _labelled_utc(arrow), pg.type, pg.typmod))
    return pa.schema(fields)


def _labelled_utc(arrow: pa.DataType) -> pa.DataType:
    """DuckDB labels a ``timestamptz`` with the cursor's TimeZone (the session's): described
    labelled UTC (the same instants), so a statement's result type does not change with the zone."""
    if pa.types.is_timestamp(arrow) and arrow.tz is not None:
        return pa.timestamp(arrow.unit, tz="UTC")
    if pa.types.is_list(arrow):
        element = _labelled_utc(arrow.value_type)
        return arrow if element == arrow.value_type else pa.list_(element)
    return arrow


RegRenderer = Callable[[str, int], str]


def _render_reg(column: pa.Array, kind: str, render: RegRenderer) -> pa.Array:
    """OIDs → (OID, the name a ``reg*`` type prints) pairs, each distinct OID rendered once."""
    oids = column.cast(pa.uint32())
    distinct = pc.unique(oids).drop_null()
    names = pa.array([render(kind, v) for v in distinct.to_pylist()], pa.string())
    named = pc.take(names, pc.index_in(oids, value_set=distinct))
    return pa.StructArray.from_arrays([oids, named], fields=list(REG_VALUE), mask=oids.is_null())


def convert_batch(batch: pa.RecordBatch, schema: pa.Schema, render: RegRenderer) -> pa.RecordBatch:
    arrays = []
    for index, field in enumerate(schema):
        column = batch.column(index)
        pg_name = BY_OID[int(field.metadata[b"veil.pg_type_oid"])].name
        element = BY_OID.get(BY_OID[int(field.metadata[b"veil.pg_type_oid"])].element_oid)
        if pg_name in REG_TYPES and _family(column.type) == "int":
            column = _render_reg(column, pg_name, render)
        elif (element is not None and element.name in REG_TYPES and _family(column.type) == "list"
              and _family(column.type.value_type) == "int"):
            pairs = _render_reg(column.values, element.name, render)
            column = pa.ListArray.from_arrays(column.offsets, pairs, mask=column.is_null())
        elif column.type != field.type:
            if _family(column.type) == "list" and field.type == pa.string():
                column = pa.array(
                    [None if v is None else format_array_literal(v) for v in column.to_pylist()],
                    pa.string(),
                )
            else:
                column = column.cast(field.type)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
