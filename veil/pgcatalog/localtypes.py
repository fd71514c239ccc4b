"""The local engine's table of PostgreSQL types DuckDB has no type for.

Every PostgreSQL type a local-engine statement can produce is one of:

* a type DuckDB holds natively (int, numeric, text, date, arrays ...): served from the Arrow
  type (:mod:`.results`);
* a **text-form** type (:data:`TEXT_FORM`): money, bit strings, ranges, multiranges and
  anonymous records. The value travels through DuckDB as PostgreSQL's own text form in a
  VARCHAR, computed here at compile time from constants (:mod:`.textforms`); RowDescription
  carries the type's OID and typmod (a record also its fields' OIDs), and the wire encoders
  send the text, or build the binary form from it (:mod:`veil.proxy.codec.textbinary`);
* a type the local engine cannot compute (:data:`REFUSED`, and text-form values computed from
  non-constant operands): refused with SQLSTATE 0A000, never served as text under another OID.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar

from sqlglot import exp

from veil import errcodes
from veil.errors import FeatureNotSupported
from veil.pgcatalog import sqlbuild, textforms
from veil.pgcatalog.context import CompileEnv
from veil.pgtypes import BY_NAME, ColumnType

T = TypeVar("T")

#: Types whose values the local engine carries as PostgreSQL's text form.
TEXT_FORM: frozenset[str] = frozenset(
    {"money", "bit", "varbit", "record", *textforms.RANGE_ELEMENTS, *textforms.MULTIRANGES}
)
#: Types no local-engine statement can produce (DuckDB has no such type and Veil does not
#: reproduce PostgreSQL's input and output functions for them).
REFUSED: frozenset[str] = frozenset(
    {
        "tsvector",
        "tsquery",
        "jsonpath",
        "xml",
        "txid_snapshot",
        "pg_snapshot",
        "point",
        "lseg",
        "path",
        "box",
        "polygon",
        "line",
        "circle",
        "macaddr8",
        "tid",
        "aclitem",
        "timetz",
        "pg_lsn",
        "xid8",
        "macaddr",
        "cidr",
        "inet",
    }
)
_UNKNOWN_OID = 705
_CONSTRUCTOR_ARGS = (2, 3)


def is_text_form(column_type: ColumnType | None) -> bool:
    """Whether values of ``column_type`` are held as text; a record only when built by ``row()``
    (it has fields; a catalog function's record, ``_pg_expandarray``'s, is a DuckDB struct)."""
    if column_type is None or column_type.type.name not in TEXT_FORM or column_type.type.is_array:
        return False
    return column_type.type.name != "record" or bool(column_type.type.fields)


def refuse(name: str) -> FeatureNotSupported:
    return FeatureNotSupported(
        f"values of type {name} cannot be computed by Veil's local engine",
        hint="select them from a table of a PostgreSQL source",
    )


def session_timezone(env: CompileEnv) -> str:
    """The session's TimeZone setting."""
    settings = {k.lower(): v for k, v in env.ctx.settings.items()}
    return settings.get("timezone", "UTC")


def _in_zones(env: CompileEnv, canonical: Callable[[T, str, str], T], value: T, name: str) -> T:
    """A range (or multirange) of ``name`` read in the zone its literals are read in, printed in
    the session's (each bound then carries its offset, so reading it again keeps the instant)."""
    shown, read = session_timezone(env), env.literal_timezone or session_timezone(env)
    value = canonical(value, name, read)
    return value if read == shown else canonical(value, name, shown)


def _constant(node: exp.Expr) -> tuple[bool, str | None]:
    """(is constant, text) of an already rewritten operand: a literal, a bit string, a negated
    number, NULL, or a cast of one of those; text None for NULL."""
    while isinstance(node, exp.Paren | exp.Cast):
        node = node.this
    if isinstance(node, exp.Null):
        return True, None
    if isinstance(node, exp.Literal | exp.BitString | exp.ByteString):
        return True, str(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return True, "-" + node.this.this
    if isinstance(node, exp.Boolean):
        return True, "t" if node.this else "f"
    return False, None


def _is_parameter(node: exp.Expr) -> bool:
    while isinstance(node, exp.Paren | exp.Cast):
        node = node.this
    return isinstance(node, exp.Parameter | exp.Placeholder)


def _text_value(text: str) -> exp.Expr:
    return sqlbuild.cast(sqlbuild.string(text), "VARCHAR")


def cast(env: CompileEnv, node: exp.Expr, source: ColumnType | None, target: ColumnType) -> exp.Expr:
    """``CAST(node AS target)`` for a text-form or refused ``target`` (``node`` rewritten)."""
    name = target.type.name
    if name in REFUSED:
        raise refuse(name)
    if _is_parameter(node):  # a client's value of the type: Veil would have to parse it
        raise refuse(name)
    if source is not None and source.type.oid == target.type.oid and target.typmod < 0:
        return node
    constant, text = _constant(node)
    if not constant:
        raise refuse(name)
    if text is None:
        return sqlbuild.null("VARCHAR")
    return _text_value(_cast_text(env, text, source, target))


def _cast_text(env: CompileEnv, text: str, source: ColumnType | None, target: ColumnType) -> str:
    name = target.type.name
    if name == "money":
        return textforms.money_text(text)
    if name in ("bit", "varbit"):
        length = target.typmod if target.typmod >= 0 else (1 if name == "bit" else None)
        if source is not None and source.type.name in ("int4", "int8", "int2"):
            return textforms.integer_bits(int(text), length or 32)
        return textforms.bit_text(text, length, varying=name == "varbit")
    if name in textforms.RANGE_ELEMENTS:
        return _in_zones(env, textforms.range_text, text, name)
    if name in textforms.MULTIRANGES:
        return _in_zones(env, textforms.multirange_text, text, name)
    raise refuse(name)


def literal_type(node: exp.Expr) -> ColumnType | None:
    """``B'101'`` is a ``bit`` constant."""
    return ColumnType(BY_NAME["bit"]) if isinstance(node, exp.BitString) else None


def literal_value(node: exp.Expr) -> exp.Expr | None:
    """A bit-string constant as its text form."""
    if isinstance(node, exp.BitString):
        return _text_value(textforms.bit_text(str(node.this), None, varying=False))
    return None


def constructor_type(name: str | None, types: list[ColumnType | None]) -> ColumnType | None:
    """The type of ``row(...)`` (a record with its fields' types) or a range constructor."""
    if name == "row":
        fields = tuple(
            (f"f{i}", _UNKNOWN_OID if t is None else t.type.oid, t.typmod if t is not None else -1)
            for i, t in enumerate(types, 1)
        )
        return ColumnType(dataclasses.replace(BY_NAME["record"], fields=fields))
    if name in textforms.RANGE_ELEMENTS and len(types) in _CONSTRUCTOR_ARGS:
        return ColumnType(BY_NAME[name])
    return None


def constructor(
    env: CompileEnv, name: str | None, args: list[exp.Expr], types: list[ColumnType | None]
) -> exp.Expr | None:
    """``row(...)`` and ``int4range(lower, upper [, bounds])`` of constants, as text forms."""
    if name == "row":
        return _record(args, types)
    if name not in textforms.RANGE_ELEMENTS or len(args) not in _CONSTRUCTOR_ARGS:
        return None
    values = [_constant(a) for a in args]
    if not all(constant for constant, _ in values):
        raise refuse(name)
    lower, upper = values[0][1], values[1][1]
    bounds = values[2][1] if len(values) == 3 else "[)"
    if bounds is None:
        raise errcodes.DataException("range constructor flags argument must not be null")
    if bounds not in ("[)", "[]", "(]", "()"):
        raise errcodes.SyntaxError("invalid range bound flags")
    value = textforms.Range(
        lower, upper, bounds[0] == "[" and lower is not None, bounds[1] == "]" and upper is not None
    )
    canonical = _in_zones(env, textforms.canonical_range, value, name)
    return _text_value(textforms.format_range(canonical))


_BOOL_TEXT = {"true": "t", "false": "f"}


def _record(args: list[exp.Expr], types: list[ColumnType | None]) -> exp.Expr:
    fields: list[str] = []
    for arg, kind in zip(args, types, strict=True):
        constant, text = _constant(arg)
        if not constant or (kind is not None and kind.type.name in REFUSED):
            raise refuse("record")
        if text is not None and kind is not None and kind.type.name == "bool":
            text = _BOOL_TEXT.get(text.lower(), text)
        fields.append(textforms.record_field(text))
    return _text_value("(" + ",".join(fields) + ")")


_TEXT_TARGETS = frozenset({"text", "varchar", "bpchar", "name"})


def check_uses(tree: exp.Expr, type_of: Callable[[exp.Expr], ColumnType | None]) -> None:
    """Refuse (0A000) a statement that does more with a text-form value than return it, cast it
    to text or put it in a ``row()``: DuckDB holds only its text, so an operator, a function, a
    comparison or ORDER BY would act on that text (``$10.00`` sorts before ``$9.00``)."""
    for node in tree.walk():
        kind = type_of(node)
        if not is_text_form(kind) or kind is None:
            continue
        child, parent = node, node.parent
        while isinstance(parent, exp.Paren | exp.Alias):
            child, parent = parent, parent.parent
        if parent is None or (isinstance(parent, exp.Select) and child.arg_key == "expressions"):
            continue
        if isinstance(parent, exp.Cast | exp.TryCast):
            target = type_of(parent)
            if target is not None and (target.type.name in _TEXT_TARGETS or is_text_form(target)):
                continue
        if isinstance(parent, exp.Anonymous) and parent.name.lower() == "row":
            continue
        raise FeatureNotSupported(
            f"Veil's local engine can return values of type {kind.type.name} but not compute with them",
            hint="return the value itself, or cast it to text",
        )
