"""Mask expressions as sqlglot ASTs, built so they mean the same thing in every dialect.

Most masks are plain SQL that sqlglot transpiles faithfully. The keyed hash is spelled per
dialect, by the source type's plugin, because each engine names SHA-256 differently; all produce the lower-case hex digest of
``key || ':' || value::text`` in UTF-8, so a hashed value is identical whether it was computed in
DuckDB, PostgreSQL, Snowflake, Databricks or Veil's local engine.

The engine never writes the key into SQL text: its masks read the placeholder
:func:`hash_key_parameter`, which :func:`bind_hash_key` turns into one more positional parameter
(``$n``) when the statement is rendered for its source, and the key is sent as that parameter's
value. SQL text (and so a source's ``current_query()``, EXPLAIN, the audit log and error
messages quoting a statement) carries ``$n``, never the key.
"""

from __future__ import annotations

import pyarrow as pa
import sqlglot
from sqlglot import exp

from veil import errcodes
from veil.catalog.sources.plugins import for_dialect
from veil.config.models import MaskPolicy


def _text(column: exp.Expr) -> exp.Expr:
    return exp.cast(column.copy(), exp.DataType.build("text"))


def _fn(name: str, *args: exp.Expr) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


HASH_KEY_NAME = "veil_hash_key"


def hash_key_parameter() -> exp.Placeholder:
    """Where a mask reads the hash key; bound to a positional parameter by :func:`bind_hash_key`."""
    return exp.Placeholder(this=HASH_KEY_NAME)


def is_hash_key(node: exp.Expr) -> bool:
    return isinstance(node, exp.Placeholder) and node.name == HASH_KEY_NAME


def uses_hash_key(tree: exp.Expr) -> bool:
    return any(is_hash_key(node) for node in tree.find_all(exp.Placeholder))


def bind_hash_key(tree: exp.Expr, position: int) -> bool:
    """Replace (in place) every hash key placeholder of ``tree`` by the parameter ``$position``;
    whether there was one (the key must then be sent as that parameter)."""
    found = [node for node in tree.find_all(exp.Placeholder) if is_hash_key(node)]
    for node in found:
        node.replace(exp.Parameter(this=exp.Literal.number(position)))
    return bool(found)


def keyed_hash(value: exp.Expr, key: str | exp.Expr, dialect: str) -> exp.Expr:
    """Lower-case hex SHA-256 of ``key:value`` (NULL stays NULL). ``key`` is the key itself (a
    literal, for tests and tools) or an expression such as :func:`hash_key_parameter`."""
    if isinstance(key, str):
        salted: exp.Expr = exp.DPipe(this=exp.Literal.string(key + ":"), expression=_text(value), safe=True)
    else:
        prefix = exp.DPipe(this=_text(key), expression=exp.Literal.string(":"), safe=True)
        salted = exp.DPipe(this=prefix, expression=_text(value), safe=True)
    return for_dialect(dialect).sha256_hex(salted)


#: Masks whose SQL is NULL exactly when the column is (strict functions in every dialect), so
#: they need no ``CASE WHEN column IS NULL`` around them. Sources plan the mask expression on
#: every execution; a smaller expression is a faster point query.
_STRICT_MASKS = frozenset({"hash", "regex", "round", "year"})


def _null_of_same_type(column: exp.Expr) -> exp.Expr:
    """NULL typed like the column, without naming the type in any dialect."""
    return exp.Case(ifs=[exp.If(this=exp.false(), true=column.copy())])


def _repeat_stars(count: exp.Expr) -> exp.Expr:
    return _fn("repeat", exp.Literal.string("*"), exp.Greatest(this=count, expressions=[exp.Literal.number(0)]))


def mask_expression(
    mask: MaskPolicy,
    column: exp.Expr,
    dialect: str,
    hash_key: str | exp.Expr | None,
    condition: exp.Expr | None = None,
) -> exp.Expr:
    """The masked value of ``column`` (a reference to the raw column); with ``condition``
    (conditional masking, macros already expanded) only rows matching it are masked."""
    method = mask.with_
    if method == "hash":
        if hash_key is None or hash_key == "":
            raise errcodes.InsufficientPrivilege("hash masks need secrets.hash_key in the configuration")
        masked: exp.Expr = keyed_hash(column, hash_key, dialect)
    elif method == "null":
        masked = _null_of_same_type(column)
    elif method == "constant":
        masked = exp.Literal.string(mask.value or "")
    elif method == "regex":
        # Replace every match: PostgreSQL and DuckDB need the 'g' flag; Snowflake and Databricks
        # replace all by default and read a fourth argument as the start position (the source
        # type's plugin says which).
        masked = exp.RegexpReplace(
            this=_text(column),
            expression=exp.Literal.string(mask.pattern or ""),
            replacement=exp.Literal.string(mask.replacement),
            modifiers=None if for_dialect(dialect).regex_replaces_all else exp.Literal.string("g"),
        )
    elif method == "round":
        if mask.unit:
            masked = exp.cast(
                exp.TimestampTrunc(this=column.copy(), unit=exp.Literal.string(mask.unit)),
                # Without time zone in every dialect: Databricks' plain TIMESTAMP is an instant.
                exp.DataType.build("timestamp_ntz", dialect="databricks"),
            )
        else:
            masked = exp.Round(this=column.copy(), decimals=exp.Literal.number(mask.digits))
    elif method == "year":
        masked = exp.cast(exp.Extract(this=exp.var("YEAR"), expression=column.copy()), exp.DataType.build("int"))
    elif method == "show_first":
        text = _text(column)
        masked = exp.DPipe(
            this=exp.Left(this=text, expression=exp.Literal.number(mask.n)),
            expression=_repeat_stars(exp.Sub(this=exp.Length(this=text.copy()), expression=exp.Literal.number(mask.n))),
            safe=True,
        )
    elif method == "show_last":
        text = _text(column)
        masked = exp.DPipe(
            this=_repeat_stars(exp.Sub(this=exp.Length(this=text), expression=exp.Literal.number(mask.n))),
            expression=exp.Right(this=text.copy(), expression=exp.Literal.number(mask.n)),
            safe=True,
        )
    elif method == "email_domain":
        masked = exp.DPipe(
            this=exp.Literal.string("***@"),
            expression=exp.SplitPart(
                this=_text(column), delimiter=exp.Literal.string("@"), part_index=exp.Literal.number(2)
            ),
            safe=True,
        )
    else:
        masked = custom_expression(mask.sql or "", column)
    if method != "null" and method not in _STRICT_MASKS:
        # NULL stays NULL under every mask (constants included), like the raw column would.
        masked = exp.Case(
            ifs=[exp.If(this=exp.Is(this=column.copy(), expression=exp.Null()), true=exp.Null())],
            default=masked,
        )
    if condition is not None:
        # Raw only where the condition is known false: NULL conditions stay masked (fail closed).
        masked = exp.Case(ifs=[exp.If(this=exp.Not(this=exp.paren(condition)), true=column.copy())], default=masked)
    return masked


def custom_expression(sql: str, column: exp.Expr) -> exp.Expr:
    """A custom mask: any SQL expression in which ``@column`` stands for the raw value."""
    placeholder = "veil_mask_column_placeholder"
    parsed = sqlglot.parse_one(sql.replace("@column", placeholder), read="postgres")
    return parsed.transform(
        lambda node: column.copy() if isinstance(node, exp.Column) and node.name == placeholder else node
    )


def masked_arrow_type(mask: MaskPolicy, raw: pa.DataType) -> pa.DataType:
    """The type a masked column is documented with in the catalog."""
    if mask.with_ in ("null", "round") and not (mask.with_ == "round" and mask.unit):
        return raw
    if mask.with_ == "round":
        return pa.timestamp("us")
    if mask.with_ == "year":
        return pa.int32()
    return pa.string()
