"""Fragment results as the local DuckDB must see them to compute what the source would have.

Two PostgreSQL types have no faithful Arrow form, and a local join over their raw form is wrong:

* an unconstrained ``numeric`` (``sum(a * b)``, ``avg(x)`` of a subquery pushed whole) arrives as
  text so that clients get its exact digits; locally it would compare and aggregate as a string
  (TPC-H Q15's ``max(total_revenue)`` chose the lexicographic maximum, Q22 compared a decimal
  with a string). Locally it becomes DOUBLE, as DuckDB's own PostgreSQL scanner maps it;
* ``character(n)`` arrives blank-padded, but PostgreSQL compares, groups and joins it with the
  padding ignored (``p_brand = 'Brand#12'`` holds for ``'Brand#12  '``; TPC-H Q19 matched no
  row). Locally its trailing blanks are removed, which is what PostgreSQL's ``::text`` does.
  A char(n) column returned by a federated statement is therefore not re-padded.

Pushed-down statements never pass through here: their results keep the source's exact form.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from veil.pgtypes import NUMERIC, PG_TYPE_METADATA_KEY

SOURCE_TYPE_KEY = b"POSTGRESQL:type"  # the PostgreSQL type ADBC reports, kept for bpchar
BPCHAR = b"bpchar"
_NUMERIC_OID = str(NUMERIC.oid).encode()


def _kind(field: pa.Field) -> str | None:
    if not pa.types.is_string(field.type) or not field.metadata:
        return None
    if field.metadata.get(PG_TYPE_METADATA_KEY) == _NUMERIC_OID:
        return "numeric"
    if field.metadata.get(SOURCE_TYPE_KEY) == BPCHAR:
        return "bpchar"
    return None


def local_schema(schema: pa.Schema) -> pa.Schema:
    fields = []
    for field in schema:
        kind = _kind(field)
        if kind == "numeric":
            field = pa.field(field.name, pa.float64(), field.nullable)
        elif kind == "bpchar":
            field = pa.field(field.name, pa.string(), field.nullable)
        fields.append(field)
    return pa.schema(fields)


def needs_conversion(schema: pa.Schema) -> bool:
    return any(_kind(field) for field in schema)


def local_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` (of a fragment's schema) in ``local_schema`` of that schema."""
    columns = []
    for column, field in zip(batch.columns, batch.schema, strict=True):
        kind = _kind(field)
        if kind == "numeric":
            column = column.cast(pa.float64())
        elif kind == "bpchar":
            column = pc.utf8_rtrim(column, characters=" ")
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def local_table(table: pa.Table) -> pa.Table:
    if not needs_conversion(table.schema):
        return table
    schema = local_schema(table.schema)
    return pa.Table.from_batches([local_batch(b, schema) for b in table.to_batches()], schema=schema)


def local_reader(schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> pa.RecordBatchReader:
    """A one-pass reader of ``batches`` (of ``schema``, a fragment's) in the local types."""
    if not needs_conversion(schema):
        return pa.RecordBatchReader.from_batches(schema, batches)
    converted = local_schema(schema)
    return pa.RecordBatchReader.from_batches(converted, (local_batch(b, converted) for b in batches))
