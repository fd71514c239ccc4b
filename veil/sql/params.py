"""Parameter types for ``$n`` placeholders, inferred the way PostgreSQL does.

Drivers such as asyncpg enforce the types the server reports in ParameterDescription, so a
parameter compared with a ``bigint`` column must be reported as ``int8``, one inside a cast takes
the cast's type, ``LIMIT $1`` is ``int8``, and a bare ``$1`` is ``text``. A type the client
declared in Parse always wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from sqlglot import exp

from veil import pgfields, pgtypes
from veil.errcodes import FeatureNotSupported, InvalidTextRepresentation
from veil.pgcatalog.arrays import parse_array_literal
from veil.pgcatalog.casts import literal_scale
from veil.pgcatalog.infer import TableTyper
from veil.pgtypes import ColumnType, PgType

_DTYPE_TO_PG: dict[exp.DType, PgType] = {
    exp.DType.BOOLEAN: pgtypes.BOOL,
    exp.DType.SMALLINT: pgtypes.INT2,
    exp.DType.TINYINT: pgtypes.INT2,
    exp.DType.INT: pgtypes.INT4,
    exp.DType.BIGINT: pgtypes.INT8,
    exp.DType.FLOAT: pgtypes.FLOAT4,
    exp.DType.DOUBLE: pgtypes.FLOAT8,
    exp.DType.DECIMAL: pgtypes.NUMERIC,
    exp.DType.TEXT: pgtypes.TEXT,
    exp.DType.VARCHAR: pgtypes.VARCHAR,
    exp.DType.CHAR: pgtypes.BY_NAME["bpchar"],
    exp.DType.NAME: pgtypes.NAME,
    exp.DType.BINARY: pgtypes.BYTEA,
    exp.DType.VARBINARY: pgtypes.BYTEA,
    exp.DType.DATE: pgtypes.DATE,
    exp.DType.TIME: pgtypes.TIME,
    exp.DType.TIMESTAMP: pgtypes.TIMESTAMP,
    exp.DType.TIMESTAMPTZ: pgtypes.TIMESTAMPTZ,
    exp.DType.INTERVAL: pgtypes.INTERVAL,
    exp.DType.UUID: pgtypes.UUID,
    exp.DType.JSON: pgtypes.JSON,
    exp.DType.JSONB: pgtypes.JSONB,
}

_BY_SQL_NAME: dict[str, PgType] = {
    "oid": pgtypes.OID,
    "regclass": pgtypes.BY_NAME["regclass"],
    "regtype": pgtypes.BY_NAME["regtype"],
    "regproc": pgtypes.BY_NAME["regproc"],
    "regnamespace": pgtypes.BY_NAME["regnamespace"],
    "name": pgtypes.NAME,
    '"char"': pgtypes.CHAR,
}

ColumnTypeResolver = Callable[[exp.Column], ColumnType | None]


def pg_type_for_datatype(datatype: exp.DataType) -> PgType | None:
    """The PostgreSQL type a sqlglot DataType names, or None if it is not a core type."""
    if datatype.this == exp.DType.ARRAY and datatype.expressions:
        element = pg_type_for_datatype(datatype.expressions[0])
        return pgtypes.BY_OID.get(element.array_oid) if element and element.array_oid else None
    found = _DTYPE_TO_PG.get(datatype.this)
    if found is not None:
        return found
    return _BY_SQL_NAME.get(datatype.sql("postgres").lower())


def placeholder_count(statement: exp.Expr) -> int:
    numbers = [int(p.this.name) for p in statement.find_all(exp.Parameter) if p.this.name.isdigit()]
    return max(numbers, default=0)


def infer_param_oids(
    statement: exp.Expr,
    declared: Sequence[int],
    column_type: ColumnTypeResolver,
) -> list[int]:
    """One OID per placeholder ``$1..$n``: the client's where non-zero, else inferred from its
    context by the same rules as the catalog and local engines (:mod:`veil.pgcatalog.params`)."""
    count = max(placeholder_count(statement), len(declared))
    oids = [declared[i] if i < len(declared) else 0 for i in range(count)]
    typer = TableTyper(column_type)
    typer.param_hints = {i + 1: ColumnType(pgtypes.BY_OID[oid]) for i, oid in enumerate(oids) if oid in pgtypes.BY_OID}
    for parameter in statement.find_all(exp.Parameter):
        if parameter.this.name.isdigit():
            typer.type_of(parameter)
    inferred = {number: found.oid for number, found in typer.params.items() if found.type.name != "unknown"}
    return [oid or inferred.get(i + 1) or pgtypes.TEXT.oid for i, oid in enumerate(oids)]


def cast_array_parameters(statement: exp.Expr, param_oids: Sequence[int]) -> None:
    """Give every array-typed ``$n`` not already cast an explicit cast to its type, in place
    (and every ``$n`` the client declared as a source's enum or composite type).

    A source driver binds a Python list by its own reading (ADBC: a list of ints is
    ``bigint[]``), which PostgreSQL then refuses to compare with an ``integer[]`` column; the
    cast makes the source read the value as the type the client declared or Veil inferred. An
    enum or composite value arrives as its text form, which ADBC binds as ``text``."""
    for parameter in list(statement.find_all(exp.Parameter)):
        if not parameter.this.name.isdigit() or isinstance(parameter.parent, exp.Cast):
            continue
        index = int(parameter.this.name) - 1
        pg_type = pgtypes.BY_OID.get(param_oids[index]) if index < len(param_oids) else None
        if pg_type is not None and pgfields.user_type(pg_type) is not None:
            datatype = exp.DataType.build(pgtypes.format_type(pg_type.oid), dialect="postgres", udt=True)
            parameter.replace(exp.Cast(this=parameter.copy(), to=datatype))
            continue
        if pg_type is None or not pg_type.element_oid:
            continue
        element = pgtypes.BY_OID[pg_type.element_oid].name
        try:
            datatype = exp.DataType.build(f"{element}[]", dialect="postgres")
        except Exception:  # noqa: BLE001 - a type sqlglot cannot name stays uncast
            continue
        parameter.replace(exp.Cast(this=parameter.copy(), to=datatype))


# The one table of parameter types a source is given an explicit cast to, by type name: DuckDB
# keeps these as themselves (numeric would take DuckDB's default DECIMAL(18,3); name, oid,
# "char", bpchar and jsonb have no type of their own there). PostgreSQL has every core type, each
# cast by a name it reads as the type itself (``bpchar`` keeps the value's length, ``character``
# would be char(1)).
_CAST_ON_DUCKDB = frozenset({
    "bool", "int2", "int4", "int8", "float4", "float8", "varchar", "date", "time", "timestamp",
    "timestamptz", "timetz", "interval", "uuid", "bytea", "json",
})

# Types whose values a source returns in a form their PostgreSQL type reads (numbers, strings):
# an output column of one is pinned to it even where it is not cast.
_PINNED_ONLY = frozenset({"numeric", "name", "oid", "char", "bpchar", "jsonb"})

# text and unknown are what a source reads a bare parameter as anyway
_UNCAST = frozenset({"text", "unknown"})


def source_cast_type(pg_type: PgType, dialect: str) -> exp.DataType | None:
    """The type a scalar ``$n`` of ``pg_type`` is cast to on a ``dialect`` source (federated plans
    pass ``duckdb``: their fragments and the combine may run there), or None to leave it uncast."""
    if pg_type.name in _UNCAST or pg_type.element_oid or pgfields.user_type(pg_type) is not None:
        return None
    if dialect == "duckdb" and pg_type.name not in _CAST_ON_DUCKDB:
        return None
    if pg_type.name == "char":  # sqlglot reads char as character(1)
        return exp.DataType.build('"char"', dialect="postgres", udt=True)
    try:
        return exp.DataType.build(pg_type.name, dialect="postgres")
    except Exception:  # noqa: BLE001 - a type sqlglot cannot name stays uncast
        return None


def cast_declared_parameters(statement: exp.Expr, declared: Sequence[int], dialect: str = "postgres") -> None:
    """Give every ``$n`` the client declared a scalar type an explicit cast to it where
    :func:`source_cast_type` names one, in place, unless it is already cast: a declared type is
    the parameter's type in PostgreSQL wherever it stands, but a source binds the decoded value by
    its own reading (``SELECT $1`` with ``$1`` declared ``float8`` is a ``float8`` column, ``NaN``
    and not the text ``nan``)."""
    for parameter in list(statement.find_all(exp.Parameter)):
        if not parameter.this.name.isdigit() or isinstance(parameter.parent, exp.Cast):
            continue
        index = int(parameter.this.name) - 1
        pg_type = pgtypes.BY_OID.get(declared[index]) if index < len(declared) else None
        datatype = source_cast_type(pg_type, dialect) if pg_type is not None else None
        if datatype is not None:
            parameter.replace(exp.Cast(this=parameter.copy(), to=datatype))


def type_output_parameters(
    statement: exp.Expr, param_oids: Sequence[int], dialect: str = "postgres"
) -> tuple[tuple[int, int], ...]:
    """The output columns of ``statement`` that are a bare ``$n`` (``SELECT $1 AS v``), as
    (position, type OID): each such ``$n`` is cast, in place, to its declared or inferred type
    where :func:`source_cast_type` names one (an array where its element is cast on DuckDB), so
    that the column has the parameter's type (PostgreSQL's RowDescription) rather than whatever
    the driver bound the value as; the caller pins the column's PostgreSQL type to the OID."""
    if not isinstance(statement, exp.Select) or any(isinstance(p, exp.Star) for p in statement.expressions):
        return ()
    found: list[tuple[int, int]] = []
    for position, projection in enumerate(statement.expressions):
        parameter = projection.this if isinstance(projection, exp.Alias) else projection
        if not isinstance(parameter, exp.Parameter) or not parameter.this.name.isdigit():
            continue
        index = int(parameter.this.name) - 1
        pg_type = pgtypes.BY_OID.get(param_oids[index]) if index < len(param_oids) else None
        if pg_type is None or pg_type.oid == pgtypes.TEXT.oid or pgfields.user_type(pg_type) is not None:
            continue
        element = pgtypes.BY_OID.get(pg_type.element_oid) if pg_type.element_oid else None
        base = element or pg_type
        datatype = source_cast_type(base, dialect)
        if datatype is None and base.name not in _PINNED_ONLY:
            continue
        if datatype is not None:
            if element is not None:
                datatype = exp.DataType(this=exp.DType.ARRAY, expressions=[datatype], nested=True)
            cast = exp.Cast(this=parameter.copy(), to=datatype)
            if dialect == "duckdb" and pg_type.name == "timetz":  # DuckDB's Arrow TIMETZ is its packed bits
                cast = exp.Cast(this=cast, to=exp.DataType.build("text"))
            parameter.replace(cast)
        found.append((position, pg_type.oid))
    return tuple(found)


_BINARY = (exp.DType.VARBINARY, exp.DType.BINARY)
_HEX = re.compile(r"(?:\s*[0-9A-Fa-f]{2})*\s*")


def _bytea_literal(text: str) -> exp.Expr:
    """PostgreSQL's bytea input ``text`` as a DuckDB BLOB expression."""
    if text.startswith("\\x"):
        if _HEX.fullmatch(text[2:]) is None:
            raise InvalidTextRepresentation(f'invalid input syntax for type bytea: "{text}"')
        return exp.Unhex(this=exp.Literal.string("".join(text[2:].split())))
    if "\\" in text:
        raise FeatureNotSupported("bytea escape-format literals are not supported on this source")
    return exp.Cast(this=exp.Literal.string(text), to=exp.DataType.build("BLOB"))


def duckdb_literals(statement: exp.Expr) -> None:
    """Typed literals as DuckDB must be given them to read them as PostgreSQL does, in place:

    * ``'3.14'::numeric``: DuckDB reads DECIMAL as DECIMAL(18,3) (3.140); the cast gets the
      scale the literal was written with.
    * ``'{1,2}'::int[]``: DuckDB does not read PostgreSQL's array text; the literal becomes a
      list of its elements' text, cast to the array type.
    * ``'\\x0102'::bytea``: DuckDB reads only ``\\xHH`` escapes in a BLOB's text (``\\x0102`` is
      three bytes); PostgreSQL's hex format becomes ``unhex('0102')``, its escape format with
      backslashes is refused (0A000)."""
    for cast in list(statement.find_all(exp.Cast)):
        literal = cast.this.unnest()
        if isinstance(literal, exp.Literal) and literal.is_string and cast.to.this in _BINARY:
            cast.replace(_bytea_literal(literal.this))
            continue
        if (
            isinstance(literal, exp.Literal) and literal.is_string and cast.to.this == exp.DType.ARRAY
            and literal.this.lstrip().startswith("{")
        ):
            items = [exp.Null() if v is None else exp.Literal.string(v) for v in parse_array_literal(literal.this)]
            cast.set("this", exp.Array(expressions=items))
            continue
        if (
            isinstance(literal, exp.Literal) and literal.is_string
            and cast.to.this == exp.DType.DECIMAL and not cast.to.expressions
        ):
            scale = literal_scale(literal.this)
            if scale is not None:
                cast.set("to", exp.DataType.build(f"DECIMAL(38, {scale})"))
