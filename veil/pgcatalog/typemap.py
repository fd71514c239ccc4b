"""PostgreSQL type names, as written in SQL (``::int4``, ``CAST(x AS character varying(10))``,
``'integer'::regtype``), resolved to Veil's core type registry."""

from __future__ import annotations

import re

from sqlglot import exp

from veil import errcodes
from veil.pgtypes import (
    ALL_TYPES,
    BY_NAME,
    BY_OID,
    SQL_NAMES,
    ColumnType,
    PgType,
    numeric_typmod,
)

_DTYPE_NAMES = {
    exp.DataType.Type.SMALLINT: "int2",
    exp.DataType.Type.SMALLSERIAL: "int2",
    exp.DataType.Type.INT: "int4",
    exp.DataType.Type.SERIAL: "int4",
    exp.DataType.Type.BIGINT: "int8",
    exp.DataType.Type.BIGSERIAL: "int8",
    exp.DataType.Type.FLOAT: "float4",
    exp.DataType.Type.DOUBLE: "float8",
    exp.DataType.Type.DECIMAL: "numeric",
    exp.DataType.Type.VARCHAR: "varchar",
    exp.DataType.Type.CHAR: "bpchar",
    exp.DataType.Type.BPCHAR: "bpchar",
    exp.DataType.Type.TEXT: "text",
    exp.DataType.Type.NAME: "name",
    exp.DataType.Type.VARBINARY: "bytea",
    exp.DataType.Type.BINARY: "bytea",
    exp.DataType.Type.TIMESTAMP: "timestamp",
    exp.DataType.Type.TIMESTAMPTZ: "timestamptz",
    exp.DataType.Type.TIME: "time",
    exp.DataType.Type.TIMETZ: "timetz",
    exp.DataType.Type.INTERVAL: "interval",
    exp.DataType.Type.DATE: "date",
    exp.DataType.Type.BOOLEAN: "bool",
    exp.DataType.Type.JSON: "json",
    exp.DataType.Type.JSONB: "jsonb",
    exp.DataType.Type.UUID: "uuid",
    exp.DataType.Type.XML: "xml",
    exp.DataType.Type.MONEY: "money",
    exp.DataType.Type.INET: "inet",
    exp.DataType.Type.BIT: "bit",
    exp.DataType.Type.POINT: "point",
    exp.DataType.Type.UNKNOWN: "unknown",
    **{
        getattr(exp.DataType.Type, name.upper()): name
        for name in ("int4range", "int8range", "numrange", "daterange", "tsrange", "tstzrange", "int4multirange",
                     "int8multirange", "nummultirange", "datemultirange", "tsmultirange", "tstzmultirange",
                     "polygon")
    },
}

# information_schema domains are reported as their base types, like PostgreSQL's RowDescription.
_DOMAINS = {
    "sql_identifier": "name",
    "cardinal_number": "int4",
    "character_data": "varchar",
    "yes_or_no": "varchar",
    "time_stamp": "timestamptz",
}

# Every spelling ``::regtype`` and to_regtype() accept, lower-cased, without ``pg_catalog.``.
_ALIASES = {
    "int": "int4",
    "integer": "int4",
    "smallint": "int2",
    "bigint": "int8",
    "real": "float4",
    "float": "float8",
    "double precision": "float8",
    "boolean": "bool",
    "character varying": "varchar",
    "character": "bpchar",
    "char": "bpchar",
    "decimal": "numeric",
    "bit varying": "varbit",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
    "time without time zone": "time",
    "time with time zone": "timetz",
    '"char"': "char",
}


def _spellings() -> dict[str, int]:
    names: dict[str, int] = {}
    for pg_type in ALL_TYPES:
        names[pg_type.name] = pg_type.oid
        if pg_type.array_oid:
            names[pg_type.name + "[]"] = pg_type.array_oid
        sql = SQL_NAMES.get(pg_type.name)
        if sql:
            names[sql] = pg_type.oid
            if pg_type.array_oid:
                names[sql + "[]"] = pg_type.array_oid
    for alias, name in _ALIASES.items():
        base = BY_NAME[name]
        names[alias] = base.oid
        names[alias + "[]"] = base.array_oid
    return names


TYPE_SPELLINGS: dict[str, int] = _spellings()


def type_by_spelling(text: str) -> PgType | None:
    """``'integer'``, ``'pg_catalog.int4'``, ``'character varying(10)'``, ``'text[]'`` → type."""
    spelling = re.sub(r"\s+", " ", text.strip())
    spelling = re.sub(r"\(\s*\d+\s*(,\s*\d+\s*)?\)", "", spelling)
    if not spelling.startswith('"char"'):
        spelling = spelling.lower()
    spelling = re.sub(r'^"?pg_catalog"?\.', "", spelling).replace(" []", "[]")
    if spelling.startswith('"') and spelling.endswith('"') and spelling != '"char"':
        spelling = spelling[1:-1]
    oid = TYPE_SPELLINGS.get(spelling)
    return BY_OID[oid] if oid else None


def _user_defined_name(data_type: exp.DataType) -> str:
    kind = data_type.args.get("kind")
    if isinstance(kind, exp.Dot):
        schema, name = kind.this, kind.expression
        schema_name = schema.name if isinstance(schema, exp.Identifier) else schema.sql()
        name_text = name.name if isinstance(name, exp.Identifier) else name.sql()
        if schema_name == "information_schema":
            return _DOMAINS.get(name_text, name_text)
        if schema_name != "pg_catalog":
            return f"{schema_name}.{name_text}"
        quoted = isinstance(name, exp.Identifier) and name.quoted
        return name_text if quoted else name_text.lower()
    if isinstance(kind, exp.Identifier):
        return kind.name if kind.quoted else kind.name.lower()
    return str(kind or data_type.this).lower()


def _typmod(name: str, params: list[exp.Expr]) -> int:
    values = [int(p.name) for p in params if p.name.isdigit()]
    if name == "numeric" and values:
        return numeric_typmod(values[0], values[1] if len(values) > 1 else 0)
    if name in ("varchar", "bpchar") and values:
        return values[0] + 4
    if name in ("bit", "varbit") and values:
        return values[0]
    if name == "bit":  # a bare ``bit`` is bit(1)
        return 1
    if name in ("timestamp", "timestamptz", "time", "timetz", "interval") and values:
        return values[0]
    return -1


def column_type_of(node: exp.Expr) -> ColumnType:
    """Resolve a sqlglot type node (``DataType``, ``ObjectIdentifier``, ``PseudoType``).

    Raises 42704 for a type PostgreSQL would not know either (enums, domains, extensions):
    Veil's catalog has only core types and the row types of tables.
    """
    if isinstance(node, exp.ObjectIdentifier | exp.PseudoType):
        return ColumnType(_known(node.name.lower()))
    if not isinstance(node, exp.DataType):
        raise errcodes.UndefinedObject(f'type "{node.sql()}" does not exist')
    if node.this == exp.DataType.Type.ARRAY:
        element = column_type_of(node.expressions[0])
        if element.type.is_array:
            return element
        return ColumnType(BY_OID[element.type.array_oid], element.typmod)
    if node.this == exp.DataType.Type.USERDEFINED:
        name = _user_defined_name(node)
        if name.endswith("[]"):
            return ColumnType(BY_OID[_known(name[:-2]).array_oid])
        if name == "char" and node.args.get("kind") is not None and not _is_quoted(node):
            name = "bpchar"
        return ColumnType(_known(name))
    builtin = _DTYPE_NAMES.get(node.this)
    if builtin is None:
        raise errcodes.UndefinedObject(f'type "{node.sql(dialect="postgres").lower()}" does not exist')
    name = builtin
    if name == "bpchar" and node.this == exp.DataType.Type.CHAR and not node.expressions:
        return ColumnType(BY_NAME["bpchar"], 5)
    return ColumnType(BY_NAME[name], _typmod(name, node.expressions))


def _is_quoted(node: exp.DataType) -> bool:
    kind = node.args.get("kind")
    return isinstance(kind, exp.Identifier) and kind.quoted


def _known(name: str) -> PgType:
    pg_type = BY_NAME.get(_DOMAINS.get(name, name)) or type_by_spelling(name)
    if pg_type is None:
        raise errcodes.UndefinedObject(f'type "{name}" does not exist')
    return pg_type
