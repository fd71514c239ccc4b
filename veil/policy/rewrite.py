"""Replace a base table by the derived table a user may read.

``FROM sales.orders o`` becomes::

    FROM (SELECT CASE WHEN <filters> THEN <mask(id)> END AS id, ...
          FROM "sales"."orders" AS veil_raw WHERE <filters>) AS o

All masks are computed from raw columns in one projection, so every clause of the user's query
(WHERE, JOIN, GROUP BY, window functions, subqueries...) only ever sees masked values. Each
column is additionally guarded by the row filter: a source planner may evaluate a user predicate
below the filter (predicate pushdown), and the guard makes such a predicate see only NULLs on
hidden rows, so it cannot observe (or raise errors on) their values on any engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import sqlglot
from sqlglot import exp

from veil import errcodes
from veil.catalog.model import Table
from veil.policy.allowlist import FRONT, check_functions
from veil.policy.casts import typed_comparisons
from veil.policy.macros import expand_macros
from veil.policy.masks import keyed_hash, mask_expression
from veil.policy.principals import User
from veil.policy.resolve import AppliedFilter, TablePolicy

RAW_ALIAS = "veil_raw"


def _quoted(name: str) -> exp.Identifier:
    return exp.Identifier(this=name, quoted=True)


def _raw_column(name: str, table: Table) -> exp.Column:
    """The raw value of the column served as ``name``, spelled as its source spells it."""
    return exp.Column(this=_quoted(table.raw_name(name)), table=_quoted(RAW_ALIAS))


def _qualify_raw(condition: exp.Expr, table: Table) -> exp.Expr:
    """Policy conditions may name only the table's own columns (by served name, or by the
    source's spelling); bind them to the raw table, comparing a column cast to text with text
    literals on its own type where that means the same (:mod:`veil.policy.casts`)."""
    if any(True for _ in condition.find_all(exp.Table, exp.Subquery)):
        raise errcodes.InsufficientPrivilege("policy conditions may not contain subqueries or table references")
    check_functions(condition, FRONT)

    def bind(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table:
            name = node.this.this if node.this.quoted else node.name.lower()
            column = table.column(name) or table.find_column(node.name)
            if column is None:
                raise errcodes.UndefinedColumn(
                    f'policy condition references unknown column "{name}" of {table.qualified_name}'
                )
            return _raw_column(column.name, table)
        return node

    types = {column.raw_name: column.arrow_type for column in table.columns}
    return typed_comparisons(condition.transform(bind), lambda column: types.get(column.name))


def parse_condition(sql: str, table: Table, user: User) -> exp.Expr:
    try:
        parsed = sqlglot.parse_one(expand_macros(sql, user), read="postgres")
    except sqlglot.errors.ParseError as exc:
        raise errcodes.SyntaxError(
            f"invalid policy condition {sql!r}: {exc.errors[0].get('description', exc)}"
        ) from None
    return _qualify_raw(parsed, table)


def _minimize_condition(applied: AppliedFilter, table: Table, context: PolicyContext) -> exp.Expr:
    """Keep a row when the first four hex digits of a keyed hash of its key columns fall below
    ``percent`` of 0x10000. Comparing equal-length lower-case hex strings is numeric comparison
    in every dialect, so the same rows are kept on every engine and every query."""
    parts: list[exp.Expr] = []
    for name in applied.key:
        text = exp.Coalesce(
            this=exp.cast(_raw_column(name, table), exp.DataType.build("text")), expressions=[exp.Literal.string("")]
        )
        parts.extend([text, exp.Literal.string("|")])
    joined = parts[0]
    for part in parts[1:-1]:
        joined = exp.DPipe(this=joined, expression=part, safe=True)
    digest = keyed_hash(joined, "veil-minimize" if context.hash_key is None else context.hash_key, context.dialect)
    threshold = f"{min(int(applied.percent / 100 * 0x10000), 0x10000):04x}"
    prefix = exp.Substring(this=digest, start=exp.Literal.number(1), length=exp.Literal.number(4))
    if threshold == "10000":
        return exp.true()
    return exp.LT(this=prefix, expression=exp.Literal.string(threshold))


def _filter_condition(applied: AppliedFilter, table: Table, context: PolicyContext) -> exp.Expr:
    user = context.user
    if applied.kind == "minimize" and applied.key:
        return _minimize_condition(applied, table, context)
    if applied.kind == "time_window" and applied.event_time:
        window = exp.Interval(this=exp.Literal.string(str(int(applied.seconds))), unit=exp.var("SECOND"))
        return exp.GTE(
            this=_raw_column(applied.event_time, table),
            expression=exp.Sub(this=exp.CurrentTimestamp(), expression=window),
        )
    return parse_condition(applied.condition, table, user)


@dataclass(frozen=True)
class PolicyContext:
    user: User
    dialect: str
    hash_key: str | exp.Expr | None  # the engine passes masks.hash_key_parameter(), never the key


def protected_table(
    table: Table,
    source_table: exp.Table,
    policy: TablePolicy,
    context: PolicyContext,
    guard_columns: bool = True,
) -> exp.Subquery | None:
    """The derived table replacing ``source_table``, or None when no policy applies. It reads
    each column by its source's spelling and serves it under its served name.

    ``guard_columns=False`` is for statements whose predicates are all leakproof (see
    :mod:`veil.policy.leakproof`): the row filter still applies, but columns are not
    wrapped in it, so the source can push the user's predicates into its scan."""
    if policy.is_empty:
        return None
    conditions = [_filter_condition(f, table, context) for f in policy.filters]
    guard = exp.and_(*conditions) if conditions else None
    projections = []
    for column in table.columns:
        raw = _raw_column(column.name, table)
        applied = policy.masks.get(column.name)
        value: exp.Expr = raw
        if applied is not None:
            condition = parse_condition(applied.mask.where, table, context.user) if applied.mask.where else None
            value = mask_expression(applied.mask, raw, context.dialect, context.hash_key, condition)
        if guard is not None and guard_columns:
            value = exp.Case(ifs=[exp.If(this=guard.copy(), true=value)])
            if applied is None and pa.types.is_decimal(column.arrow_type):
                # Keep numeric(p,s): some engines drop the typmod of a CASE result.
                decimal = f"DECIMAL({column.arrow_type.precision}, {column.arrow_type.scale})"
                value = exp.cast(value, exp.DataType.build(decimal))
        projections.append(exp.alias_(value, _quoted(column.name)))
    inner_table = source_table.copy()
    inner_table.set("alias", exp.TableAlias(this=_quoted(RAW_ALIAS)))
    select = exp.Select(expressions=projections).from_(inner_table, copy=False)
    if guard is not None:
        select = select.where(guard, copy=False)
    return exp.Subquery(this=select)
