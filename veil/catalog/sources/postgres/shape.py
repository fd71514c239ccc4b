"""The shape of a PostgreSQL source's result: each column's type OID and modifier as the source
reports them, the Arrow type Veil carries its values in, and the SQL that makes ADBC return them
exactly.

ADBC's PostgreSQL driver reads PostgreSQL's binary COPY format. For the types Arrow represents
exactly (integers, floats, text, bytea, dates and times, json, uuid ...) its Arrow columns are
used as they are. For every other type (inet, money, geometric types, ranges, bit strings,
tsvector, enums, composites ...) it hands back opaque binary bytes (and arrays of any type lose
their dimensions), so the statement sent to the source is wrapped to return those columns as
PostgreSQL's own text form (``col::text``) and they are served as that text with the column's
real type OID: a client asking for text gets exactly what PostgreSQL would print.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from veil.errors import FeatureNotSupported
from veil.pgfields import (
    FIRST_NORMAL_OID,
    composite_type,
    enum_type,
    pinned_field,
    register_source_types,
    served_user_type,
)
from veil.pgtypes import BY_OID, NUMERIC, TEXT, PgType, format_type

#: Type OIDs whose values ADBC returns exactly, with the Arrow type Veil serves them as.
ADBC_EXACT: dict[int, pa.DataType] = {
    16: pa.bool_(),
    17: pa.binary(),
    19: pa.string(),  # name
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    25: pa.string(),
    114: pa.string(),  # json
    700: pa.float32(),
    701: pa.float64(),
    1042: pa.string(),  # bpchar: blank-padded, as PostgreSQL sends it
    1043: pa.string(),
    1082: pa.date32(),
    1083: pa.time64("us"),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
    1186: pa.month_day_nano_interval(),
    2950: pa.binary(16),  # uuid
    3802: pa.string(),  # jsonb
}

#: Arrays are read as text too: ADBC flattens multi-dimensional arrays and drops lower bounds.
_ARRAY_ELEMENTS: dict[int, int] = {}

#: How the catalog spells ADBC's metadata for a bpchar column (a local join trims its padding).
BPCHAR_METADATA = {b"POSTGRESQL:type": b"bpchar"}


@dataclass(frozen=True)
class SourceColumn:
    """One result column as PostgreSQL describes it."""

    name: str
    type_oid: int
    typmod: int = -1
    nullable: bool = True


#: The source's enums and composite types (not tables' row types): each is served as its own
#: type (OID, pg_type, an enum's labels in pg_enum, a composite's fields in pg_attribute).
LIST_USER_TYPES = """
SELECT t.oid::bigint AS oid, t.typarray::bigint AS array_oid, n.nspname, t.typname, t.typtype::text AS kind,
       pg_catalog.json_agg(pg_catalog.json_build_array(a.attname, a.atttypid, a.atttypmod) ORDER BY a.attnum)::text
           AS details
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
JOIN pg_catalog.pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
GROUP BY 1, 2, 3, 4, 5
UNION ALL
SELECT t.oid::bigint, t.typarray::bigint, n.nspname, t.typname, t.typtype::text,
       pg_catalog.json_agg(e.enumlabel::text ORDER BY e.enumsortorder)::text
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid
GROUP BY 1, 2, 3, 4, 5
"""


def register_user_types(rows: Sequence[dict[str, object]], database: str) -> None:
    """Make the types of :data:`LIST_USER_TYPES` (all of ``database``'s) known before the columns
    using them are read: each under the source's OID, or one of Veil's when another database uses
    that OID for another type (:func:`veil.pgfields.register_source_types`)."""
    types = []
    for row in rows:
        oid, array_oid, schema, name = int(str(row["oid"])), int(str(row["array_oid"])), str(row["nspname"]), str(row["typname"])
        details = json.loads(str(row["details"]))
        if row["kind"] == "e":
            types.append(enum_type(oid, array_oid, schema, name, tuple(str(label) for label in details)))
        else:
            fields = tuple((str(field), int(type_oid), int(typmod)) for field, type_oid, typmod in details)
            types.append(composite_type(oid, array_oid, schema, name, fields))
    register_source_types(database, types)


def source_type(oid: int, database: str) -> PgType | None:
    """The type Veil serves for a type OID of ``database`` (or, not listed yet, of a catalog
    stored before databases were told apart)."""
    if oid < FIRST_NORMAL_OID:
        return BY_OID.get(oid)
    return served_user_type(database, oid) or served_user_type("", oid)


def _numeric_arrow(typmod: int) -> pa.DataType:
    if typmod >= 4:
        precision, scale = (typmod - 4) >> 16, (typmod - 4) & 0xFFFF
        if precision <= 38:
            return pa.decimal128(precision, scale)
    return pa.string()


def as_text(column: SourceColumn) -> bool:
    """Whether the column's values are read as PostgreSQL's text form (``col::text``)."""
    if column.type_oid == NUMERIC.oid:
        # ADBC prints NaN as "nan"; an exact decimal (numeric(p,s), p <= 38) is read as Arrow.
        return not pa.types.is_decimal(_numeric_arrow(column.typmod))
    return column.type_oid not in ADBC_EXACT and column.type_oid not in _ARRAY_ELEMENTS


def served_field(column: SourceColumn, database: str) -> pa.Field:
    """The Arrow field Veil serves the column (of ``database``) as, its PostgreSQL type pinned in
    its metadata."""
    oid, typmod = column.type_oid, column.typmod
    pg_type = source_type(oid, database)
    if pg_type is None:  # extension types, composites of non-built-in fields: served as text
        return pinned_field(column.name, pa.string(), TEXT, -1, column.nullable)
    if oid == NUMERIC.oid:
        return pinned_field(column.name, _numeric_arrow(typmod), NUMERIC, typmod, column.nullable)
    if oid in _ARRAY_ELEMENTS:
        element = ADBC_EXACT[_ARRAY_ELEMENTS[oid]]
        return pinned_field(column.name, pa.list_(element), pg_type, typmod, column.nullable)
    arrow_type = ADBC_EXACT.get(oid, pa.string())
    field = pinned_field(column.name, arrow_type, pg_type, typmod, column.nullable)
    if oid == 1042:
        field = field.with_metadata({**field.metadata, **BPCHAR_METADATA})
    return field


def served_schema(columns: Sequence[SourceColumn], database: str) -> pa.Schema:
    return pa.schema([served_field(c, database) for c in columns])


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text_of(reference: str, type_oid: int) -> str:
    """PostgreSQL's output form of a value as text. A cast to text is the output function for
    every type but inet, whose text() always shows the netmask (``10.0.0.1/32``)."""
    if type_oid == 869:
        return f"CASE WHEN {reference} IS NULL THEN NULL ELSE pg_catalog.format('%s', {reference}) END"
    return f"{reference}::text"


_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$(\d+)")


def typed_parameters(sql: str, param_oids: Sequence[int], database: str) -> str:
    """``sql`` with each ``$n`` whose type PostgreSQL inferred as one ADBC cannot bind (inet,
    macaddr, money ...: ADBC binds their values as text) cast to that type: ``($n)::inet``."""
    types = {i + 1: (oid, source_type(oid, database)) for i, oid in enumerate(param_oids)}
    casts = {
        # bit without a length is bit(1): a bit string parameter is cast to bit varying.
        number: "bit varying" if oid == 1560 else format_type(pg_type.oid) for number, (oid, pg_type) in types.items()
        if pg_type is not None and oid not in ADBC_EXACT and oid != NUMERIC.oid
        and not pg_type.is_array and pg_type.kind != "p"
    }
    if not casts:
        return sql

    def cast(match: re.Match[str]) -> str:
        number = match.group(1)
        if number is None or int(number) not in casts:
            return match.group(0)
        return f"(${number})::{casts[int(number)]}"

    return _PLACEHOLDER.sub(cast, sql)


def text_wrapped(sql: str, columns: Sequence[SourceColumn]) -> str:
    """``sql`` with the columns ADBC cannot read exactly cast to text (the same columns, names
    and order; each output column is renamed positionally, so duplicate names stay apart)."""
    if not any(as_text(c) for c in columns):
        return sql
    aliases = ", ".join(f"c{i}" for i in range(len(columns)))
    outputs = ", ".join(
        f"{_text_of(f'q.c{i}', c.type_oid)} AS {_quote(c.name)}" if as_text(c) else f"q.c{i} AS {_quote(c.name)}"
        for i, c in enumerate(columns)
    )
    return f"SELECT {outputs} FROM ({sql}) AS q({aliases})"


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """An ADBC batch with the served schema: opaque and extension columns unwrapped, numerics
    (which ADBC returns as strings) cast to their decimal type."""
    columns = []
    for column, field in zip(batch.columns, schema, strict=True):
        if isinstance(column.type, pa.BaseExtensionType):
            column = column.storage
        try:
            columns.append(column if column.type == field.type else column.cast(field.type))
        except pa.ArrowInvalid:
            # numeric(p,s) holding NaN: an Arrow decimal has no NaN.
            raise FeatureNotSupported(
                f'column "{field.name}" holds a value Veil cannot carry as {field.type} (NaN in a numeric(p,s))',
                hint="cast the column to numeric or text in the query",
            ) from None
    return pa.RecordBatch.from_arrays(columns, schema=schema)
