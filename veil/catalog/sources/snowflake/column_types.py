"""Snowflake types as the Arrow types Veil serves, and results conformed to them.

One mapping serves both the catalog (``INFORMATION_SCHEMA.COLUMNS.DATA_TYPE`` with precision and
scale) and query results (the connector's ``ResultMetadata``: type code, precision, scale), so a
column is described the same way by ``\\d`` and by a query's RowDescription:

* ``NUMBER(p,0)`` with p ≤ 18 → int64 (bigint); other ``NUMBER(p,s)`` → decimal128(p,s) (numeric).
  ``INT``/``BIGINT`` are ``NUMBER(38,0)`` in Snowflake, hence numeric(38,0).
* ``FLOAT`` → float64; ``TEXT`` → string; ``BINARY`` → binary; ``BOOLEAN``; ``DATE``;
  ``TIME`` → time64(us); ``TIMESTAMP_NTZ`` → timestamp(us);
  ``TIMESTAMP_TZ``/``TIMESTAMP_LTZ`` → timestamp(us, UTC) (the same instant, as timestamptz).
* ``VARIANT``/``OBJECT``/``ARRAY``/``MAP`` → JSON text (the ``arrow.json`` extension, served as json).
* Anything else (``GEOGRAPHY``, ``VECTOR``, intervals...) → text.

The connector's Arrow batches do not carry these types exactly: integers narrow per chunk (int8
… int64, or decimal128 for large values), timestamps and times come in nanoseconds with the
session's time zone. :func:`conform_batch` casts each batch to the served schema with vectorised
Arrow casts.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

_JSON = pa.json_(pa.string())
_MAX_INT64_DIGITS = 18

# Snowflake's FIELD_TYPES, by the type code ResultMetadata carries.
_TYPE_CODES = (
    "FIXED", "REAL", "TEXT", "DATE", "TIMESTAMP", "VARIANT", "TIMESTAMP_LTZ", "TIMESTAMP_TZ",
    "TIMESTAMP_NTZ", "OBJECT", "ARRAY", "BINARY", "TIME", "BOOLEAN", "GEOGRAPHY", "GEOMETRY",
    "VECTOR", "MAP", "FILE", "INTERVAL_YEAR_MONTH", "INTERVAL_DAY_TIME",
)

_SIMPLE: dict[str, pa.DataType] = {
    "REAL": pa.float64(),
    "FLOAT": pa.float64(),
    "FLOAT4": pa.float64(),
    "FLOAT8": pa.float64(),
    "DOUBLE": pa.float64(),
    "DOUBLE PRECISION": pa.float64(),
    "TEXT": pa.string(),
    "VARCHAR": pa.string(),
    "CHAR": pa.string(),
    "CHARACTER": pa.string(),
    "STRING": pa.string(),
    "BINARY": pa.binary(),
    "VARBINARY": pa.binary(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIME": pa.time64("us"),
    "TIMESTAMP": pa.timestamp("us"),  # TIMESTAMP is an alias of TIMESTAMP_NTZ by default
    "DATETIME": pa.timestamp("us"),
    "TIMESTAMP_NTZ": pa.timestamp("us"),
    "TIMESTAMP_TZ": pa.timestamp("us", tz="UTC"),
    "TIMESTAMP_LTZ": pa.timestamp("us", tz="UTC"),
    "VARIANT": _JSON,
    "OBJECT": _JSON,
    "ARRAY": _JSON,
    "MAP": _JSON,
}


def number_type(precision: int | None, scale: int | None) -> pa.DataType:
    """``NUMBER(p,s)``: bigint when it always fits, else an exact decimal."""
    precision = precision if precision is not None else 38
    scale = scale or 0
    if scale == 0 and precision <= _MAX_INT64_DIGITS:
        return pa.int64()
    return pa.decimal128(min(precision, 38), scale)


def arrow_type_for(data_type: str, precision: int | None = None, scale: int | None = None) -> pa.DataType:
    """The served Arrow type of a column, from ``INFORMATION_SCHEMA.COLUMNS`` (``DATA_TYPE``,
    ``NUMERIC_PRECISION``, ``NUMERIC_SCALE``)."""
    name = data_type.strip().upper().split("(", 1)[0].strip()
    if name in ("NUMBER", "FIXED", "DECIMAL", "NUMERIC", "INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT"):
        return number_type(precision, scale)
    return _SIMPLE.get(name, pa.string())


def served_field(metadata: Any) -> pa.Field:
    """The served field of one result column (a connector ``ResultMetadata``)."""
    code = metadata.type_code
    name = _TYPE_CODES[code] if 0 <= code < len(_TYPE_CODES) else "TEXT"
    arrow_type = arrow_type_for(name, metadata.precision, metadata.scale)
    return pa.field(metadata.name, arrow_type, bool(metadata.is_nullable))


def served_schema(description: Any) -> pa.Schema:
    return pa.schema([served_field(m) for m in description or ()])


def _conformed(column: pa.Array, target: pa.DataType) -> pa.Array:
    if column.type == target:
        return column
    if isinstance(target, pa.BaseExtensionType):
        storage = column.storage if isinstance(column, pa.ExtensionArray) else column
        return pa.ExtensionArray.from_storage(target, _conformed(storage, target.storage_type))
    if pa.types.is_timestamp(target) or pa.types.is_time(target):
        # Snowflake keeps nanoseconds, PostgreSQL microseconds: truncate (never overflow-check
        # a unit change that only drops digits).
        return column.cast(target, safe=False)
    # Numbers: a safe cast, so a value that does not fit fails instead of wrapping around.
    return column.cast(target)


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with the served types and names of ``schema`` (columns matched by position)."""
    if batch.num_columns != len(schema):
        raise ValueError(f"result has {batch.num_columns} columns, expected {len(schema)}")
    columns = [_conformed(column, field.type) for column, field in zip(batch.columns, schema, strict=True)]
    return pa.RecordBatch.from_arrays(columns, schema=schema)
