"""PostgreSQL casts and implicit literal coercions, rewritten for DuckDB.

OIDs and ``reg*`` values travel through DuckDB as ``UINTEGER``. A cast *to* a ``reg*`` type from
text looks the name up (at compile time for a literal, with a macro otherwise); a cast from a
``reg*`` value to text prints the object's name. Untyped string literals compared with an OID,
number, boolean or array take that type, as PostgreSQL's ``unknown`` literals do.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlglot import exp

from veil import errcodes
from veil.pgcatalog import localtypes, sqlbuild
from veil.pgcatalog.arrays import parse_array_literal
from veil.pgcatalog.context import CompileEnv
from veil.pgcatalog.schema import NAMED_REG_TYPES, REG_TYPES, storage_type
from veil.pgcatalog.textforms import jsonb_text
from veil.pgtypes import BY_NAME, BY_OID, ColumnType, PgType, format_type

STRING_TYPES = frozenset({"text", "varchar", "bpchar", "name", "char", "unknown"})
OID_TYPES = frozenset({"oid", "xid", "cid"})
INTEGER_TYPES = frozenset({"int2", "int4", "int8"})
NUMERIC_TYPES = INTEGER_TYPES | {"float4", "float8", "numeric"} | OID_TYPES


def is_string(column_type: ColumnType | None) -> bool:
    return column_type is None or column_type.type.name in STRING_TYPES


def is_reg(column_type: ColumnType | None) -> bool:
    return column_type is not None and column_type.type.name in REG_TYPES


def duck_type(column_type: ColumnType) -> str:
    """The DuckDB type for a PostgreSQL column type, honouring numeric precision."""
    pg_type, typmod = column_type.type, column_type.typmod
    if pg_type.name == "numeric":
        if typmod >= 4:
            packed = typmod - 4
            precision, scale = min(packed >> 16, 38), packed & 0xFFFF
            return f"DECIMAL({precision},{min(scale, precision)})"
        return "DECIMAL(38,10)"
    return storage_type(pg_type)


def string_literal(node: exp.Expr) -> str | None:
    if isinstance(node, exp.Literal) and node.is_string:
        return node.this
    return None


def reg_input(env: CompileEnv, kind: str, text: exp.Expr, strict: bool) -> exp.Expr:
    """``text::regclass`` (or to_regclass(text) when not strict)."""
    literal = string_literal(text)
    if literal is not None:
        oid = env.objects.reg_in(kind, literal, env.path, strict=strict)
        return sqlbuild.typed_literal(oid, "UINTEGER")
    text = sqlbuild.cast(text, "VARCHAR")
    if kind in NAMED_REG_TYPES:
        state, message = NAMED_REG_TYPES[kind]
        prefix, _, suffix = message.partition("{}")
        return sqlbuild.veil_fn(
            "regnamed_in", sqlbuild.string(kind), text, sqlbuild.boolean(strict),
            sqlbuild.string(f"[{state}] {prefix}"), sqlbuild.string(suffix),
        )
    args: list[exp.Expr] = [text, sqlbuild.boolean(strict)]
    if kind in ("regclass", "regtype"):
        args.insert(1, env.path_literal())
    return sqlbuild.veil_fn(f"{_macro_kind(kind)}_in", *args)


def reg_output(env: CompileEnv, kind: str, oid: exp.Expr) -> exp.Expr:
    """``regclass::text``: the object's name as PostgreSQL prints it."""
    if isinstance(oid, exp.Cast) and isinstance(oid.this, exp.Literal) and oid.this.is_int:
        return sqlbuild.string(env.objects.reg_out(kind, int(oid.this.this), env.path))
    if kind in NAMED_REG_TYPES:
        return sqlbuild.veil_fn("regnamed_out", sqlbuild.string(kind), oid)
    args = [oid, env.path_literal()] if kind in ("regclass", "regtype") else [oid]
    return sqlbuild.veil_fn(f"{kind}_out", *args)


def _macro_kind(kind: str) -> str:
    return "regproc" if kind == "regprocedure" else kind


def coerce(
    env: CompileEnv,
    node: exp.Expr,
    source: ColumnType | None,
    target: ColumnType,
) -> exp.Expr:
    """Rewrite ``CAST(node AS target)`` where ``node`` (already rewritten) has PostgreSQL type
    ``source`` (None when unknown)."""
    name = target.type.name
    literal = string_literal(node)
    if isinstance(node, exp.Null):
        return sqlbuild.null(duck_type(target))
    if name in REG_TYPES:
        if is_reg(source) or (source is not None and source.type.name in NUMERIC_TYPES):
            return sqlbuild.cast(node, "UINTEGER")
        return reg_input(env, name, node, strict=True)
    if source is not None and is_reg(source) and name in STRING_TYPES:
        return reg_output(env, source.type.name, node)
    if name in localtypes.TEXT_FORM or name in localtypes.REFUSED:
        return localtypes.cast(env, node, source, target)
    target_element = BY_OID.get(target.type.element_oid)
    if (target.type.is_array and target_element is not None and target_element.name in REG_TYPES
            and (literal is not None or is_string(source))):
        return _each_reg_input(env, target_element.name, node, literal)
    if literal is not None:
        return _from_literal(literal, target)
    element = BY_OID.get(source.type.element_oid) if source is not None else None
    if element is not None and element.name in REG_TYPES and (
        name in STRING_TYPES or (target_element is not None and target_element.name in STRING_TYPES)
    ):
        # regtype[]::text[] (pgcli's function list): each OID becomes the name it prints as
        # (a correlated subquery: DuckDB lambdas cannot call the lookup macros).
        names = each_reg_output(env, element.name, node)
        return sqlbuild.veil_fn("array_out", names) if name in STRING_TYPES else names
    if source is not None and source.type.name in ("oidvector", "int2vector") and name in STRING_TYPES:
        # oidvectorout/int2vectorout: the elements space-separated (``23 25``), no braces.
        return sqlbuild.builtin("array_to_string", node, sqlbuild.string(" "))
    if source is not None and source.type.is_array and name in ("text", "varchar"):
        return sqlbuild.veil_fn("array_out", node)
    if name == "char" and source is not None and source.type.name != "char":
        return sqlbuild.builtin("left", sqlbuild.cast(node, "VARCHAR"), sqlbuild.number(1))
    if name in ("unknown", "any", "anyelement"):
        return node
    if source is not None and source.type.oid == target.type.oid and target.typmod < 0:
        return node
    if target.type.is_array and is_string(source):
        parsed = sqlbuild.veil_fn("array_in", sqlbuild.cast(node, "VARCHAR"))
        return sqlbuild.cast(parsed, duck_type(target))
    if name == "bool" and source is not None and source.type.name in INTEGER_TYPES:
        return exp.NEQ(this=node, expression=sqlbuild.number(0))
    return sqlbuild.cast(node, duck_type(target))


def _each_reg_input(env: CompileEnv, kind: str, node: exp.Expr, literal: str | None) -> exp.Expr:
    """``'{int4,text}'::regtype[]``: each element read by the type's input function (a literal's
    at compile time, a computed text's by a correlated subquery as in :func:`each_reg_output`)."""
    if literal is not None:
        oids = [
            sqlbuild.null("UINTEGER") if v is None else reg_input(env, kind, sqlbuild.string(v), strict=True)
            for v in parse_array_literal(literal)
        ]
        return sqlbuild.cast(exp.Array(expressions=oids), "UINTEGER[]")
    texts = sqlbuild.veil_fn("array_in", sqlbuild.cast(node, "VARCHAR"))
    element = reg_input(env, kind, exp.column("vl__reg", table="vl__regs"), strict=True)
    element_list = exp.select(exp.ArrayAgg(this=element).as_("vl__oids")).from_(
        exp.select(exp.Unnest(expressions=[texts]).as_("vl__reg")).subquery("vl__regs")
    )
    empty = sqlbuild.cast(exp.Array(expressions=[]), "UINTEGER[]")
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=node, expression=exp.Null()), true=sqlbuild.null("UINTEGER[]"))],
        default=exp.Coalesce(this=element_list.subquery(), expressions=[empty]),
    )


def each_reg_output(env: CompileEnv, kind: str, array: exp.Expr) -> exp.Expr:
    """Each OID of a reg* array as the name it prints as (a VARCHAR[])."""
    rendered = reg_output(env, kind, exp.column("vl__reg", table="vl__regs"))
    element_list = exp.select(
        exp.ArrayAgg(this=rendered).as_("vl__names")
    ).from_(
        exp.select(
            exp.Unnest(expressions=[array.copy()]).as_("vl__reg"),
        ).subquery("vl__regs")
    )
    empty = sqlbuild.cast(exp.Array(expressions=[]), "VARCHAR[]")
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=array, expression=exp.Null()), true=sqlbuild.null("VARCHAR[]"))],
        default=exp.Coalesce(this=element_list.subquery(), expressions=[empty]),
    )


def _from_literal(text: str, target: ColumnType) -> exp.Expr:
    pg_type = target.type
    name = pg_type.name
    if name in ("text", "varchar", "name", "unknown") and target.typmod < 0:
        return sqlbuild.string(text)
    if name in OID_TYPES:
        if not text.strip().lstrip("-").isdigit():
            raise errcodes.InvalidTextRepresentation(f'invalid input syntax for type {name}: "{text}"')
        return sqlbuild.typed_literal(int(text) % 2**32, "UINTEGER")
    if pg_type.is_array or name in ("int2vector", "oidvector"):
        element = BY_OID[pg_type.element_oid] if pg_type.is_array else _vector_element(pg_type)
        values = parse_array_literal(text) if pg_type.is_array else text.split()
        if element.name == "numeric" and any(v is not None for v in values):  # each keeps its scale
            typed = ColumnType(element, target.typmod)
            return exp.Array(expressions=[exp.Null() if v is None else _from_literal(v, typed) for v in values])
        return sqlbuild.typed_literal(
            [_element_value(v, element) for v in values], duck_type(target)
        )
    if name == "bool":
        return sqlbuild.typed_literal(parse_bool(text), "BOOLEAN")
    if name == "char":
        return sqlbuild.string(text[:1])
    if name == "bpchar" and target.typmod >= 4:  # char(n) pads with blanks (an explicit cast cuts)
        return sqlbuild.string(text[: target.typmod - 4].ljust(target.typmod - 4))
    if name == "jsonb":
        return sqlbuild.cast(sqlbuild.string(jsonb_text(text)), "JSON")
    if name == "bytea":
        escaped = "".join(f"\\x{byte:02X}" for byte in bytea_input(text))  # DuckDB's BLOB escapes
        return sqlbuild.cast(sqlbuild.string(escaped), "BLOB")
    if name in INTEGER_TYPES:
        if not text.strip().lstrip("-+").isdigit():
            raise errcodes.InvalidTextRepresentation(f'invalid input syntax for type {_sql_name(pg_type)}: "{text}"')
        return sqlbuild.typed_literal(int(text), duck_type(target))
    if name == "numeric" and target.typmod < 0:
        scale = literal_scale(text)
        if scale is not None:  # ``'3.14'::numeric`` keeps the scale it was written with: 3.14
            return sqlbuild.cast(sqlbuild.string(text), f"DECIMAL(38,{scale})")
    return sqlbuild.cast(sqlbuild.string(text), duck_type(target))


def bytea_input(text: str) -> bytes:
    """``byteain``: the hex format (``\\xdeadbeef``) or the escape format (``a\\000b``)."""
    if text.startswith("\\x"):
        digits = "".join(text[2:].split())
        try:
            return bytes.fromhex(digits)
        except ValueError:
            raise errcodes.InvalidTextRepresentation(f'invalid hexadecimal data: "{text}"') from None
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] != "\\":
            out += text[i].encode()
            i += 1
        elif text[i + 1 : i + 2] == "\\":
            out.append(0x5C)
            i += 2
        elif len(text) >= i + 4 and all(c in "01234567" for c in text[i + 1 : i + 4]):
            out.append(int(text[i + 1 : i + 4], 8))
            i += 4
        else:
            raise errcodes.InvalidTextRepresentation("invalid input syntax for type bytea")
    return bytes(out)


def literal_scale(text: str) -> int | None:
    """The scale PostgreSQL gives an unconstrained numeric read from ``text`` (None: not a
    finite number, or more digits than DuckDB's DECIMAL(38) holds)."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    sign_digits_exponent = value.as_tuple()
    exponent = int(sign_digits_exponent.exponent)
    scale = max(-exponent, 0)
    integer_digits = max(len(sign_digits_exponent.digits) + exponent, 1)
    return scale if integer_digits + scale <= 38 else None


def _vector_element(pg_type: PgType) -> PgType:
    return BY_NAME["int2"] if pg_type.name == "int2vector" else BY_NAME["oid"]


def _element_value(value: str | None, element: PgType) -> object:
    if value is None:
        return None
    if element.name in INTEGER_TYPES or element.name in OID_TYPES:
        return int(value)
    if element.name in ("float4", "float8"):
        return float(value)
    if element.name == "bool":
        return parse_bool(value)
    return value


def parse_bool(text: str) -> bool:
    """PostgreSQL's boolean words (t/true/y/yes/on/1 and their opposites), any case."""
    lowered = text.strip().lower()
    if lowered in ("t", "true", "y", "yes", "on", "1"):
        return True
    if lowered in ("f", "false", "n", "no", "off", "0"):
        return False
    raise errcodes.InvalidTextRepresentation(f'invalid input syntax for type boolean: "{text}"')


def _sql_name(pg_type: PgType) -> str:
    return format_type(pg_type.oid)


def coerce_literal(node: exp.Expr, target: ColumnType | None) -> exp.Expr:
    """An untyped string literal meeting a typed operand (``c.oid = '16386'``,
    ``polroles = '{0}'``) becomes a constant of that type; anything else is left alone."""
    inner = node
    while isinstance(inner, exp.Paren):
        inner = inner.this
    literal = string_literal(inner)
    if literal is None or target is None:
        return node
    name = target.type.name
    if name in OID_TYPES or name in INTEGER_TYPES or name == "bool" or target.type.is_array:
        return _from_literal(literal, target)
    if name in ("int2vector", "oidvector"):
        return _from_literal(literal, target)
    return node
