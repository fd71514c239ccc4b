"""Fragment results as the local DuckDB must see them to compute what the source would have.

Three PostgreSQL types have no faithful Arrow form, and a local join over their raw form is wrong:

* an unconstrained ``numeric`` (``sum(a * b)``, ``avg(x)`` of a subquery pushed whole) arrives as
  text so that clients get its exact digits; locally it would compare and aggregate as a string
  (TPC-H Q15's ``max(total_revenue)`` chose the lexicographic maximum, Q22 compared a decimal
  with a string). Locally it becomes DOUBLE, as DuckDB's own PostgreSQL scanner maps it;
* ``character(n)`` arrives blank-padded, but PostgreSQL compares, groups and joins it with the
  padding ignored (``p_brand = 'Brand#12'`` holds for ``'Brand#12  '``; TPC-H Q19 matched no
  row). Locally its trailing blanks are removed, which is what PostgreSQL's ``::text`` does; a
  char(n) column the result returns untouched is padded to its n characters again;
* a ``uuid`` arrives as 16 bytes, which the local engine would take for a ``bytea``: it becomes
  Arrow's uuid extension type, a UUID in DuckDB (as a DuckDB source's uuid column is).

Pushed-down statements never pass through here: their results keep the source's exact form.

Every other column keeps its value in the local engine, but not its PostgreSQL type: an enum, a
composite, inet, an int[] read as PostgreSQL's text form is a plain string there, and a
``timestamp(3)`` loses its modifier. A result column that *is* such a fragment column, untouched
(selected, through derived tables, DISTINCT, GROUP BY, min/max, CASE or COALESCE of it alone), is
served with the fragment column's type (:func:`lineage_markers`, :func:`source_typed`): the same
OID, modifier and text/binary bytes as a single-source statement.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from veil.pgfields import PG_USER_TYPE_METADATA_KEY, column_type_for_field
from veil.pgtypes import NUMERIC, PG_TYPE_METADATA_KEY, PG_TYPMOD_METADATA_KEY, UUID, column_type_for_arrow

SOURCE_TYPE_KEY = b"POSTGRESQL:type"  # the PostgreSQL type ADBC reports, kept for bpchar
BPCHAR = b"bpchar"
_NUMERIC_OID = str(NUMERIC.oid).encode()
_UUID_OID = str(UUID.oid).encode()
_BPCHAR_OID = b"1042"
_UUID_STORAGE = pa.binary(16)
# the metadata that pins a field's PostgreSQL type (veil.pgfields.pinned_metadata)
_PINNED_KEYS = (PG_TYPE_METADATA_KEY, PG_TYPMOD_METADATA_KEY, PG_USER_TYPE_METADATA_KEY)
# DuckDB's name of a lineage marker type: an ENUM whose only label is the marker's name
MARKER_PREFIX = "veil_lineage_"


def _kind(field: pa.Field) -> str | None:
    if not field.metadata:
        return None
    if field.type == _UUID_STORAGE and field.metadata.get(PG_TYPE_METADATA_KEY) == _UUID_OID:
        return "uuid"
    if not pa.types.is_string(field.type):
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
        elif kind == "uuid":
            field = pa.field(field.name, pa.uuid(), field.nullable)
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
        elif kind == "uuid":
            column = pa.ExtensionArray.from_storage(pa.uuid(), column)
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


def _carries_source_type(field: pa.Field) -> bool:
    """Whether a fragment field's PostgreSQL type says more than its Arrow type and the local
    engine holds its values as they came (or trimmed, for char(n); not as numbers, as numeric)."""
    if not field.metadata or PG_TYPE_METADATA_KEY not in field.metadata or _kind(field) in ("numeric", "uuid"):
        return False
    return column_type_for_field(field) != column_type_for_arrow(field.type)


def lineage_markers(
    schemas: Mapping[str, pa.Schema], strings_only: bool = False, prefix: str = MARKER_PREFIX
) -> dict[str, dict[str, pa.Field]]:
    """For each fragment (by name), its columns worth tracing to the result, each under the name
    of the DuckDB marker type that stands for it: describing the local part with each such column
    cast to its own one-label ENUM, a result column of that ENUM type is that column, untouched
    (any function, operator or cast of it has another type). ``strings_only``: only the columns
    held as strings (a marker on a timestamp breaks comparisons with other timestamps); each
    marker is named ``prefix`` and a number."""
    markers: dict[str, dict[str, pa.Field]] = {}
    count = 0
    for name, schema in schemas.items():
        marked = {}
        for field in schema:
            if _carries_source_type(field) and (not strings_only or pa.types.is_string(field.type)):
                marked[f"{prefix}{count}"] = field
                count += 1
        markers[name] = marked
    return markers


def marker_enum(marker: str) -> str:
    """How DuckDB describes a column of a marker type."""
    return f"ENUM('{marker}')"


def source_typed(schema: pa.Schema, origins: Mapping[int, pa.Field]) -> pa.Schema:
    """``schema`` (the local part's result) with column ``i`` given the PostgreSQL type of
    ``origins[i]`` (the fragment column it is) when the local engine kept its Arrow type."""
    fields = list(schema)
    for index, origin in origins.items():
        field = fields[index]
        if field.type == origin.type:
            pinned = {key: value for key, value in origin.metadata.items() if key in _PINNED_KEYS}
            fields[index] = field.with_metadata({**(field.metadata or {}), **pinned})
    return pa.schema(fields, metadata=schema.metadata)


def padded_widths(schema: pa.Schema) -> dict[int, int]:
    """The result's char(n) columns (position -> n), whose values the local engine trimmed."""
    return {
        index: int(field.metadata[PG_TYPMOD_METADATA_KEY]) - 4
        for index, field in enumerate(schema)
        if pa.types.is_string(field.type) and field.metadata and field.metadata.get(PG_TYPE_METADATA_KEY) == _BPCHAR_OID
        and int(field.metadata.get(PG_TYPMOD_METADATA_KEY, b"-1")) > 4
    }


def repadded(batch: pa.RecordBatch, widths: Mapping[int, int]) -> pa.RecordBatch:
    """``batch`` with its char(n) columns blank-padded to n characters, as PostgreSQL sends them."""
    columns = list(batch.columns)
    for index, width in widths.items():
        columns[index] = pc.utf8_rpad(columns[index], width=width, padding=" ")
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)
