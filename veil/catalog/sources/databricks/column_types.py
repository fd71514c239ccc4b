"""Databricks types as the Arrow types Veil serves, and results conformed to them.

One mapping serves the catalog (``information_schema.columns.full_data_type``: ``int``,
``decimal(10,2)``, ``array<string>``) and query results (the Arrow schema the warehouse sends), so
``\\d`` and a query's RowDescription agree:

* ``tinyint``/``smallint`` → int16 (PostgreSQL has no one-byte integer), ``int`` → int32,
  ``bigint`` → int64, ``float`` → float32, ``double`` → float64, ``decimal(p,s)`` → decimal128(p,s).
* ``string``/``varchar(n)``/``char(n)`` → string; ``binary``; ``boolean``; ``date``.
* ``timestamp`` (an instant, shown in the session time zone) → timestamp(us, UTC), served as
  timestamptz; ``timestamp_ntz`` → timestamp(us), served as timestamp.
* ``array<T>`` → list of T's type when T is a scalar; arrays of arrays, maps or structs, and
  ``map``/``struct``/``variant`` themselves → JSON text (served as json).
* Anything else (intervals, ``void``, ``geography``...) → text.

Results are converted batch by batch with vectorised Arrow casts; maps and structs are rendered
as JSON by DuckDB, which reads the Arrow batch in place (no per-value Python).
"""

from __future__ import annotations

import re
import threading

import pyarrow as pa

from veil.catalog.sources.sandbox import sandboxed_duckdb

JSON = pa.json_(pa.string())

_SIMPLE: dict[str, pa.DataType] = {
    "tinyint": pa.int16(), "byte": pa.int16(), "smallint": pa.int16(), "short": pa.int16(),
    "int": pa.int32(), "integer": pa.int32(), "bigint": pa.int64(), "long": pa.int64(),
    "float": pa.float32(), "real": pa.float32(), "double": pa.float64(),
    "string": pa.string(), "binary": pa.binary(), "boolean": pa.bool_(), "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"), "timestamp_ltz": pa.timestamp("us", tz="UTC"),
    "timestamp_ntz": pa.timestamp("us"),
}
_DECIMAL = re.compile(r"(?:decimal|dec|numeric)(?:\((\d+)\s*,\s*(\d+)\)|\((\d+)\))?")


def arrow_type_for(databricks_type: str) -> pa.DataType:
    """The Arrow type Veil serves for a column, from ``full_data_type``."""
    name = databricks_type.strip().lower()
    if name in _SIMPLE:
        return _SIMPLE[name]
    decimal = _DECIMAL.fullmatch(name)
    if decimal:
        precision = int(decimal.group(1) or decimal.group(3) or 10)
        return pa.decimal128(precision, int(decimal.group(2) or 0))
    if name.startswith(("varchar", "char")):
        return pa.string()
    if name.startswith("array<") and name.endswith(">"):
        element = arrow_type_for(name[6:-1])
        return JSON if _is_nested(element) else pa.list_(element)
    if name.startswith(("map<", "struct<", "variant", "object")):
        return JSON
    return pa.string()


def _is_nested(arrow_type: pa.DataType) -> bool:
    return (
        pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_struct(arrow_type)
        or pa.types.is_map(arrow_type) or arrow_type == JSON
    )


def served_type(arrow_type: pa.DataType) -> pa.DataType:
    """The Arrow type Veil serves for a result column the warehouse sent as ``arrow_type``."""
    t = pa.types
    if t.is_int8(arrow_type):
        return pa.int16()
    if t.is_timestamp(arrow_type):
        return pa.timestamp("us", tz="UTC" if arrow_type.tz else None)
    if t.is_large_string(arrow_type) or t.is_string_view(arrow_type) or t.is_null(arrow_type):
        return pa.string()
    if t.is_large_binary(arrow_type) or t.is_binary_view(arrow_type):
        return pa.binary()
    if t.is_decimal(arrow_type) and arrow_type.precision > 38:
        return pa.string()
    if t.is_list(arrow_type) or t.is_large_list(arrow_type):
        if _is_nested(arrow_type.value_type):
            return JSON
        return pa.list_(served_type(arrow_type.value_type))
    if t.is_struct(arrow_type) or t.is_map(arrow_type):
        return JSON
    if t.is_interval(arrow_type) or t.is_duration(arrow_type) or t.is_time(arrow_type):
        return pa.string()
    return arrow_type


def served_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, served_type(f.type), True) for f in schema])


class _JsonRenderer:
    """Nested values as JSON text, rendered by DuckDB over the Arrow column (one per thread)."""

    _local = threading.local()

    def render(self, column: pa.Array | pa.ChunkedArray) -> pa.Array:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = sandboxed_duckdb()
        relation = connection.from_arrow(pa.table({"v": column}))
        result = relation.project("to_json(v)::VARCHAR AS v").to_arrow_table()
        return result.column(0).combine_chunks()


_JSON_RENDERER = _JsonRenderer()


def conform_column(column: pa.Array, target: pa.DataType) -> pa.Array:
    """One result column in the served type (vectorised)."""
    if column.type == target:
        return column
    if target == JSON:
        text = column if pa.types.is_string(column.type) else _JSON_RENDERER.render(column)
        return pa.ExtensionArray.from_storage(JSON, text.cast(pa.string()))
    if pa.types.is_string(target) and not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        if pa.types.is_null(column.type):
            return pa.nulls(len(column), pa.string())
        return column.cast(pa.string())
    return column.cast(target)


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A batch as the connector returned it, in the served schema."""
    if batch.schema.equals(schema):
        return batch
    columns = [conform_column(c, f.type) for c, f in zip(batch.columns, schema, strict=True)]
    return pa.RecordBatch.from_arrays(columns, schema=schema)
