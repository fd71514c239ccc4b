"""Calls DuckDB computes differently from PostgreSQL, rewritten to PostgreSQL's result or
refused (0A000) before a statement runs on DuckDB (the local engine and a DuckDB source):

* ``sha384``/``sha512``: DuckDB has only SHA-256 (sqlglot writes every SHA-2 digest as
  ``sha256``): refused.
* ``round(float8)``/``round(float4)``: PostgreSQL's ``rint`` rounds half to even, DuckDB's
  ``round`` half away from zero: ``round_even(x, 0)``. ``round(numeric)`` stays as it is.
* ``octet_length``/``bit_length``: DuckDB measures octets only of a BLOB and bits only of a
  VARCHAR: text by ``strlen`` (UTF-8 octets), bytea by ``octet_length``, bits as 8 × octets.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from veil.errcodes import FeatureNotSupported
from veil.pgtypes import ColumnType

TypeOf = Callable[[exp.Expr], ColumnType | None]

_FLOATS = frozenset({"float8", "float4"})
_TEXTS = frozenset({"text", "varchar", "unknown", "name"})


def _type_name(type_of: TypeOf, node: exp.Expr) -> str | None:
    column_type = type_of(node)
    return column_type.type.name if column_type is not None else None


def _is_length(node: exp.Expr) -> bool:
    return isinstance(node, exp.BitLength) or (
        isinstance(node, exp.Anonymous) and node.name.lower() == "octet_length" and len(node.expressions) == 1
    )


def _length(node: exp.Expr, type_of: TypeOf) -> exp.Expr | None:
    argument = node.this if isinstance(node, exp.BitLength) else node.expressions[0]
    kind = _type_name(type_of, argument)
    if kind == "bytea":
        octets: exp.Expr = exp.Anonymous(this="octet_length", expressions=[argument])
    elif kind in _TEXTS:
        text = exp.Cast(this=argument, to=exp.DataType.build("VARCHAR"))
        octets = exp.Anonymous(this="strlen", expressions=[text])
    else:
        return None
    if isinstance(node, exp.BitLength):
        octets = exp.Mul(this=octets, expression=exp.Literal.number(8))
    return exp.Cast(this=octets, to=exp.DataType.build("INT"))


def needs_exact_call(tree: exp.Expr) -> bool:
    """Whether ``tree`` has a call :func:`exact_call` may rewrite (it then needs its types)."""
    return any(
        _is_length(n) or isinstance(n, exp.Round) for n in tree.find_all(exp.Round, exp.BitLength, exp.Anonymous)
    )


def exact_call(node: exp.Expr, type_of: TypeOf) -> exp.Expr | None:
    """The DuckDB form of ``node`` that computes PostgreSQL's result (``None``: ``node`` is
    right as it is). Raises 0A000 for a call DuckDB cannot compute."""
    if isinstance(node, exp.SHA2Digest | exp.SHA2):
        length = node.args.get("length")
        if length is not None and length.name not in ("", "256"):
            raise FeatureNotSupported(f"sha{length.name} is not supported")
        return None
    if isinstance(node, exp.Round) and node.args.get("decimals") is None:
        if _type_name(type_of, node.this) in _FLOATS:
            return exp.Anonymous(this="round_even", expressions=[node.this, exp.Literal.number(0)])
        return None
    if _is_length(node):
        return _length(node, type_of)
    return None


def refuse_inexact(tree: exp.Expr) -> None:
    """Raise 0A000 for a call in ``tree`` DuckDB cannot compute as PostgreSQL does, whatever the
    types of its arguments."""
    for node in tree.find_all(exp.SHA2Digest, exp.SHA2):
        exact_call(node, lambda _: None)


def exact_calls(tree: exp.Expr, type_of: TypeOf) -> None:
    """Every call in ``tree`` rewritten by :func:`exact_call`, in place: types are read from
    the tree as it was, inner calls rewritten before the calls around them."""
    nodes = list(tree.walk())
    known = {id(node): type_of(node) for node in nodes}
    for node in reversed(nodes):
        replacement = exact_call(node, lambda n: known.get(id(n)))
        if replacement is not None:
            known[id(replacement)] = known.get(id(node))
            node.replace(replacement)

