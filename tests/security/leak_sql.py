"""A scope-aware generator of random, mostly valid PostgreSQL SELECT statements over the leak
suite's schema (SQLancer-style: it tracks which relations and columns each scope can see, so
what it writes resolves and type-checks).

It aims at the places a policy rewriter can lose track of a table: CTEs in every scope (top
level, inside subqueries, inside CTEs, in set-operation branches, recursive) and CTE names equal
to real table names, subqueries of every kind (scalar, IN, EXISTS, correlated, LATERAL, derived),
set operations, joins and self-joins, window functions, casts, GROUP BY/HAVING, ORDER BY/LIMIT,
VALUES, and table names spelled qualified, unqualified, quoted and upper-case.

Choices come from a :class:`~tests.security.leak_choosers.Chooser`: Hypothesis's ``draw`` (so failures shrink to a small
statement) or a seeded ``random.Random`` (for long exploratory runs without Hypothesis).
Literals come from a fixed pool that shares no substring with the canaries in
:mod:`tests.security.leak_data`, so no statement can echo a canary it was not given.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hypothesis import strategies as st

from tests.security.leak_choosers import Chooser, HypothesisChooser, RandomChooser

# Column types the generator tracks: int, num (numeric), text, ts (timestamp), bool.
TABLES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "transactions": ("sales", [
        ("transaction_id", "int"), ("customer_id", "int"), ("card_number", "text"), ("email", "text"),
        ("country", "text"), ("amount", "num"), ("currency", "text"), ("memo", "text"), ("created_at", "ts"),
    ]),
    "customers": ("sales", [
        ("customer_id", "int"), ("full_name", "text"), ("email", "text"), ("country", "text"),
        ("signed_up_at", "ts"),
    ]),
    "countries": ("sales", [("code", "text"), ("name", "text")]),
    "salaries": ("hr", [("employee", "text"), ("salary", "num"), ("note", "text")]),
    # in the source's default schema (main or public), given to the Generator
    "ledger": ("", [("entry_id", "int"), ("card_number", "text"), ("email", "text"), ("country", "text"), ("memo", "text")]),
}
READABLE = ("ledger", "transactions", "ledger", "customers", "transactions", "countries")
CTE_NAMES = ("ledger", "transactions", "ledger", "customers", "countries", "salaries", "x")
TEXT_LITERALS = ("'US'", "'CA'", "'DE'", "'ZZ'", "'x'", "''", "'EUR'", "'4%'", "'%@%'", "'%.test'", "'%q%'", "'a b'")
LIKE_PATTERNS = ("'4%'", "'%@%'", "'%.test'", "'%q'", "'z%'", "'%1%'", "'U_'", "'%'")
TYPES = ("int", "text", "text", "num", "ts")
# SQL text handed to functions that run SQL themselves (PostgreSQL's *_to_xml, DuckDB's
# json_execute_serialized_sql): nothing a user names inside a string literal may escape policy.
INNER_SQL = (
    "SELECT card_number, memo FROM sales.transactions", "SELECT * FROM public.ledger",
    "SELECT full_name, email FROM sales.customers", "SELECT * FROM hr.salaries",
)
SQL_TABLE_NAMES = ("sales.transactions", "public.ledger", "sales.customers", "hr.salaries")


@dataclass(frozen=True)
class Rel:
    """A FROM item: its alias and its columns (None for a name that cannot be referenced)."""

    alias: str
    columns: tuple[tuple[str | None, str], ...]

    def named(self, kind: str | None = None) -> list[tuple[str, str]]:
        return [(n, t) for n, t in self.columns if n is not None and (kind is None or t == kind)]


@dataclass
class Scope:
    rels: list[Rel] = field(default_factory=list)
    outer: Scope | None = None
    # Visible CTEs: name -> columns, or None for a name that shadows but may not be read here.
    ctes: dict[str, tuple[tuple[str | None, str], ...] | None] = field(default_factory=dict)

    def columns(self, kind: str | None = None, outer: bool = True) -> list[tuple[Rel, str, str]]:
        found = [(r, n, t) for r in self.rels for n, t in r.named(kind)]
        if outer and self.outer is not None:
            found += self.outer.columns(kind)
        return found

    def unique_here(self, name: str) -> bool:
        return sum(1 for r in self.rels for n, _ in r.columns if n == name) == 1


@dataclass(frozen=True)
class Query:
    sql: str
    columns: tuple[tuple[str | None, str], ...]
    simple: bool  # a bare SELECT (no WITH, set operation, ORDER BY or LIMIT)


class Generator:
    def __init__(self, chooser: Chooser, default_schema: str = "public", max_depth: int = 3, max_queries: int = 4) -> None:
        self.c = chooser
        self.default_schema = default_schema
        self.max_depth = max_depth
        self.max_queries = max_queries  # query expressions per statement (keeps each one fast)
        self.queries = 0
        self.counter = 0

    def nest(self, depth: int) -> bool:
        """May another query expression be nested at ``depth``?"""
        return depth < self.max_depth and self.queries < self.max_queries

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # ---------------------------------------------------------------- statements
    def statement(self) -> str:
        query = self.query(Scope(), None, 0)
        return query.sql

    def query(self, outer: Scope, want: tuple[str, ...] | None, depth: int, ctes: dict | None = None) -> Query:
        """A full query expression: optional WITH, a SELECT or a set operation, ORDER BY/LIMIT."""
        self.queries += 1
        ctes = dict(outer.ctes if ctes is None else ctes)
        with_sql = ""
        if self.nest(depth) and self.c.chance(0.45 if depth == 0 else 0.3):
            with_sql, ctes = self.with_clause(outer, ctes, depth)
        scope_outer = Scope(rels=[], outer=outer.outer if not outer.rels else outer, ctes=ctes)
        if self.nest(depth) and self.c.chance(0.2):
            body = self.set_operation(scope_outer, want, depth)
        else:
            body = self.select(scope_outer, want, depth)
        sql = with_sql + body.sql
        simple = body.simple and not with_sql
        if self.c.chance(0.2):
            positions = ", ".join(
                f"{self.c.integer(1, len(body.columns))}{self.c.choice(('', ' DESC', ' NULLS FIRST'))}"
                for _ in range(self.c.integer(1, 2))
            )
            sql += f" ORDER BY {positions}"
            simple = False
        if self.c.chance(0.15):
            sql += f" LIMIT {self.c.integer(0, 5)}"
            if self.c.chance(0.3):
                sql += f" OFFSET {self.c.integer(0, 3)}"
            simple = False
        return Query(sql, body.columns, simple)

    def with_clause(self, outer: Scope, ctes: dict, depth: int) -> tuple[str, dict]:
        recursive = self.c.chance(0.25)
        count = self.c.integer(1, 2)
        names: list[str] = []
        for _ in range(count):
            name = self.c.choice(CTE_NAMES)
            if name not in names:
                names.append(name)
        visible = dict(ctes)
        if recursive:  # under WITH RECURSIVE every name of the list is in scope in every body
            for name in names:
                visible[name] = None
        parts = []
        for index, name in enumerate(names):
            if recursive and index == 0:
                self.queries += 1
                body, columns = self.recursive_body(outer, visible, name, depth)
                parts.append(f"{self.cte_name(name)}(n, label) AS ({body})")
            else:
                inner = self.query(Scope(outer=outer.outer if not outer.rels else outer, ctes=visible), None, depth + 1, visible)
                columns = inner.columns
                if any(n is None for n, _ in columns) or self.c.chance(0.3):
                    columns = tuple((f"k{i}", t) for i, (_, t) in enumerate(columns))
                    listed = "(" + ", ".join(n for n, _ in columns) + ")"  # type: ignore[misc]
                else:
                    listed = ""
                materialized = self.c.choice(("", "", "", "MATERIALIZED ", "NOT MATERIALIZED "))
                parts.append(f"{self.cte_name(name)}{listed} AS {materialized}({inner.sql})")
            visible[name] = columns
        return ("WITH RECURSIVE " if recursive else "WITH ") + ", ".join(parts) + " ", visible

    def cte_name(self, name: str) -> str:
        return f'"{name}"' if self.c.chance(0.2) else name

    def recursive_body(self, outer: Scope, ctes: dict, name: str, depth: int) -> tuple[str, tuple]:
        """``SELECT n, label FROM <anchor> UNION ALL SELECT n + 1, label FROM name WHERE n < k``."""
        anchor_ctes = {k: v for k, v in ctes.items() if k != name}
        anchor_ctes[name] = None
        if self.c.chance(0.5):
            scope = Scope(outer=None, ctes=anchor_ctes)
            rel = self.table_ref(scope, depth + 1)
            scope.rels.append(rel[1])
            int_col = self.column_sql(scope, "int") or "1"
            text_col = self.column_sql(scope, "text") or "'x'"
            anchor = f"SELECT CAST({int_col} AS BIGINT), CAST({text_col} AS TEXT) FROM {rel[0]}"
            if self.c.chance(0.5):
                anchor += f" WHERE {self.bool_expr(scope, 'row', depth + 1)}"
        else:
            anchor = f"SELECT CAST({self.c.integer(0, 3)} AS BIGINT), CAST({self.c.choice(TEXT_LITERALS)} AS TEXT)"
        union = self.c.choice(("UNION ALL", "UNION"))
        step = self.c.choice(("label", "label || 'x'", "upper(label)")) if union == "UNION ALL" else "label"
        recursive = f"SELECT n + 1, {step} FROM {self.cte_name(name)} WHERE n < {self.c.integer(1, 4)}"
        return f"{anchor} {union} {recursive}", (("n", "int"), ("label", "text"))

    def set_operation(self, scope: Scope, want: tuple[str, ...] | None, depth: int) -> Query:
        left = self.branch(scope, want, depth)
        types = tuple(t for _, t in left.columns)
        right = self.branch(scope, types, depth)
        op = self.c.choice(("UNION ALL", "UNION", "INTERSECT", "EXCEPT", "UNION ALL", "EXCEPT ALL"))
        return Query(f"{left.sql} {op} {right.sql}", left.columns, False)

    def branch(self, scope: Scope, want: tuple[str, ...] | None, depth: int) -> Query:
        if self.nest(depth) and self.c.chance(0.4):
            inner = self.query(Scope(outer=scope.outer, ctes=scope.ctes), want, depth + 1)
            return Query(f"({inner.sql})", inner.columns, False)
        return self.select(scope, want, depth)

    # ---------------------------------------------------------------- SELECT
    def select(self, scope: Scope, want: tuple[str, ...] | None, depth: int) -> Query:
        scope = Scope(rels=[], outer=scope.outer, ctes=scope.ctes)
        from_sql = ""
        if not self.c.chance(0.05):
            from_sql = " FROM " + self.from_clause(scope, depth)
        where = ""
        if self.c.chance(0.5):
            where = f" WHERE {self.bool_expr(scope, 'row', depth)}"
        mode = self.c.choice(("row", "row", "row", "group", "agg", "distinct")) if scope.columns(outer=False) else "row"
        group_keys: list[tuple[str, str]] = []
        group_sql = ""
        if mode == "group":
            candidates = scope.columns(outer=False)
            for _ in range(self.c.integer(1, 2)):
                rel, name, kind = self.c.choice(candidates)
                ref = self.qualified(scope, rel, name)
                if (ref, kind) not in group_keys:
                    group_keys.append((ref, kind))
            group_sql = " GROUP BY " + ", ".join(k for k, _ in group_keys)
            if self.c.chance(0.3):
                group_sql += f" HAVING {self.bool_expr(scope, 'agg', depth, group_keys)}"
        expr_mode = "agg" if mode in ("group", "agg") else "row"
        items, columns = self.select_list(scope, want, expr_mode, depth, group_keys)
        distinct = "DISTINCT " if mode == "distinct" else ""
        sql = f"SELECT {distinct}{items}{from_sql}{where}{group_sql}"
        return Query(sql, columns, True)

    def select_list(
        self, scope: Scope, want: tuple[str, ...] | None, mode: str, depth: int, keys: list[tuple[str, str]]
    ) -> tuple[str, tuple[tuple[str | None, str], ...]]:
        if want is None and mode == "row" and scope.rels and self.c.chance(0.2):
            if self.c.chance(0.5):
                rel = self.c.choice(scope.rels)
                return f"{rel.alias}.*", rel.columns
            columns = tuple(c for r in scope.rels for c in r.columns)
            names = [n for n, _ in columns]
            return "*", tuple((n if n is not None and names.count(n) == 1 else None, t) for n, t in columns)
        kinds = want if want is not None else tuple(self.c.choice(TYPES) for _ in range(self.c.integer(1, 4)))
        items: list[str] = []
        columns: list[tuple[str | None, str]] = []
        used: set[str] = set()
        for index, kind in enumerate(kinds):
            expr = self.expr(scope, kind, mode, depth, keys, window=mode == "row")
            bare = expr.rsplit(".", 1)[-1].strip('"')
            if _BARE_COLUMN.fullmatch(expr) and bare not in used and self.c.chance(0.6) and bare in _ALL_COLUMNS:
                name = bare
                items.append(expr)
            else:
                name = self.c.choice(("c", "card_number", "email", "country", "memo", "v"))
                name = f"{name}{index}" if name in used or name in ("c", "v") else name
                items.append(f"{expr} AS {name}")
            used.add(name)
            columns.append((name, kind))
        return ", ".join(items), tuple(columns)

    # ---------------------------------------------------------------- FROM
    def from_clause(self, scope: Scope, depth: int) -> str:
        sql, rel = self.from_item(scope, depth)
        scope.rels.append(rel)
        joins = self.c.integer(0, 2 if depth == 0 else 1)
        for index in range(joins):
            kinds = ("JOIN", "LEFT JOIN", "JOIN", "CROSS JOIN", "FULL JOIN", "RIGHT JOIN", "LATERAL")
            # a comma binds looser than JOIN: a later ON could not name the items before it
            kind = self.c.choice(kinds + ((", ",) if index == joins - 1 else ()))
            if kind == "LATERAL" and not self.nest(depth):
                kind = "JOIN"
            if kind == "LATERAL":
                join = self.c.choice(("CROSS JOIN LATERAL", "LEFT JOIN LATERAL"))
                item_sql, item = self.derived(Scope(rels=list(scope.rels), outer=scope.outer, ctes=scope.ctes), depth, lateral=True)
                sql += f" {join} {item_sql}" + (" ON true" if join.startswith("LEFT") else "")
                scope.rels.append(item)
                continue
            item_sql, item = self.from_item(scope, depth)
            if kind in ("CROSS JOIN", ", "):
                sql += f"{' ' if kind == 'CROSS JOIN' else ''}{kind} {item_sql}"
            else:
                condition = self.join_condition(scope, item, full=kind == "FULL JOIN", depth=depth)
                sql += f" {kind} {item_sql} ON {condition}"
            scope.rels.append(item)
        return sql

    def join_condition(self, scope: Scope, item: Rel, full: bool, depth: int) -> str:
        for kind in self.c.choice((("int", "text"), ("text", "int"))):
            left = scope.columns(kind, outer=False)
            right = item.named(kind)
            if left and right:
                rel, name, _ = self.c.choice(left)
                other, _ = self.c.choice(right)
                joined = Scope(rels=[*scope.rels, item], outer=scope.outer, ctes=scope.ctes)
                condition = f"{self.qualified(joined, rel, name)} = {item.alias}.{other}"
                if not full and self.c.chance(0.3):
                    inner = Scope(rels=[*scope.rels, item], outer=scope.outer, ctes=scope.ctes)
                    condition += f" AND {self.bool_expr(inner, 'row', depth + 1)}"
                return condition
        return "true" if not full else "1 = 1"

    def from_item(self, scope: Scope, depth: int) -> tuple[str, Rel]:
        roll = self.c.integer(0, 9)
        if roll <= 5 or not self.nest(depth):
            return self.table_ref(scope, depth)
        if roll <= 7:
            return self.derived(scope, depth, lateral=False)
        if roll == 8 and self.c.chance(0.3):
            alias = self.fresh("j")
            inner = self.c.choice(INNER_SQL)
            columns = next(cols for name, (_, cols) in TABLES.items() if name in inner)
            return (
                f"json_execute_serialized_sql(json_serialize_sql('{inner}')) AS {alias}",
                Rel(alias, tuple((n, t) for n, t in columns if inner.startswith("SELECT *") or n in inner)),
            )
        if roll == 8:
            alias = self.fresh("v")
            rows = []
            for _ in range(self.c.integer(1, 3)):
                rows.append(f"({self.c.integer(0, 9)}, {self.c.choice(TEXT_LITERALS)})")
            return f"(VALUES {', '.join(rows)}) AS {alias}(n, label)", Rel(alias, (("n", "int"), ("label", "text")))
        alias = self.fresh("g")
        return f"generate_series(1, {self.c.integer(1, 4)}) AS {alias}(n)", Rel(alias, (("n", "int"),))

    def derived(self, scope: Scope, depth: int, lateral: bool) -> tuple[str, Rel]:
        outer = scope if lateral else scope.outer
        inner = self.query(Scope(rels=[], outer=outer, ctes=scope.ctes), None, depth + 1)
        alias = self.fresh("d")
        columns = inner.columns
        if any(n is None for n, _ in columns) or self.c.chance(0.2):
            columns = tuple((f"k{i}", t) for i, (_, t) in enumerate(columns))
            return f"({inner.sql}) AS {alias}({', '.join(n for n, _ in columns)})", Rel(alias, columns)  # type: ignore[misc]
        return f"({inner.sql}) AS {alias}", Rel(alias, columns)

    def table_ref(self, scope: Scope, depth: int) -> tuple[str, Rel]:
        """A named relation: a visible CTE or a real table, in one of its spellings."""
        readable_ctes = [n for n, cols in scope.ctes.items() if cols is not None]
        alias = self.fresh("t") if self.c.chance(0.85) else None
        if readable_ctes and self.c.chance(0.5):
            name = self.c.choice(readable_ctes)
            columns = scope.ctes[name]
            spelled = f'"{name}"' if self.c.chance(0.2) else name
            if alias is None and any(r.alias == name for r in scope.rels):
                alias = self.fresh("t")
            return (f"{spelled} {alias}" if alias else spelled), Rel(alias or name, columns)  # type: ignore[arg-type]
        name = self.c.choice(READABLE) if not self.c.chance(0.01) else "salaries"
        schema, columns = TABLES[name]
        schema = schema or self.default_schema
        if name in scope.ctes:
            spellings = (f"{schema}.{name}", f'"{schema}"."{name}"', f"veil.{schema}.{name}")
        elif schema == "hr":
            spellings = (f"{schema}.{name}", name)
        else:
            spellings = (name, name, f"{schema}.{name}", f'"{name}"', f'"{schema}"."{name}"', f"{schema.upper()}.{name.upper()}", f"veil.{schema}.{name}")
        spelled = self.c.choice(spellings)
        if alias is None and ("." in spelled or any(r.alias == name for r in scope.rels)):
            alias = self.fresh("t")
        return (f"{spelled} AS {alias}" if alias else spelled), Rel(alias or name, tuple(columns))

    # ---------------------------------------------------------------- expressions
    def qualified(self, scope: Scope, rel: Rel, name: str) -> str:
        here = rel in scope.rels
        column = f'"{name}"' if self.c.chance(0.1) else name
        if here and scope.unique_here(name) and self.c.chance(0.3):
            return column
        return f"{rel.alias}.{column}"

    def column_sql(self, scope: Scope, kind: str, outer: bool = True) -> str | None:
        candidates = scope.columns(kind, outer=outer)
        if not candidates:
            return None
        local = [c for c in candidates if c[0] in scope.rels]
        rel, name, _ = self.c.choice(local if local and self.c.chance(0.8) else candidates)
        return self.qualified(scope, rel, name)

    def expr(
        self, scope: Scope, kind: str, mode: str, depth: int, keys: Sequence[tuple[str, str]] = (), window: bool = False
    ) -> str:
        if kind == "bool":
            return self.bool_expr(scope, mode, depth, keys)
        if mode == "agg":
            return self.agg_expr(scope, kind, depth, keys)
        roll = self.c.integer(0, 9)
        if roll <= 4:
            column = self.column_sql(scope, kind)
            if column is not None:
                return column
        if roll == 5 and self.nest(depth):
            inner = self.query(Scope(outer=scope, ctes=scope.ctes), (kind,), depth + 1)
            if not inner.simple:
                return f"(SELECT k0 FROM ({inner.sql}) AS {self.fresh('s')}(k0) LIMIT 1)"
            return f"({inner.sql} LIMIT 1)"
        if roll == 6 and window and scope.rels:
            return self.window_expr(scope, kind)
        if roll in (6, 7, 8) and depth < self.max_depth + 1:
            return self.function(scope, kind, mode, depth + 1, keys)
        return self.literal(kind)

    def literal(self, kind: str) -> str:
        if kind == "int":
            return str(self.c.integer(0, 50))
        if kind == "num":
            return self.c.choice(("12.50", "0.5", "CAST(7 AS NUMERIC)", "100.00"))
        if kind == "ts":
            return self.c.choice(("TIMESTAMP '2026-03-01 00:00:00'", "CAST('2026-05-01' AS TIMESTAMP)"))
        if kind == "bool":
            return self.c.choice(("true", "false"))
        return self.c.choice(TEXT_LITERALS)

    def function(self, scope: Scope, kind: str, mode: str, depth: int, keys: Sequence[tuple[str, str]]) -> str:
        def sub(k: str) -> str:
            return self.expr(scope, k, mode, depth, keys)

        if kind == "int":
            return self.c.choice((
                lambda: f"{sub('int')} + {sub('int')}",
                lambda: f"({sub('int')} * {self.c.integer(1, 3)})",
                lambda: f"abs({sub('int')})",
                lambda: f"length({sub('text')})",
                lambda: f"CAST({sub('num')} AS INTEGER)",
                lambda: f"CAST(EXTRACT(YEAR FROM {sub('ts')}) AS INTEGER)",
                lambda: f"CASE WHEN {self.bool_expr(scope, mode, depth, keys)} THEN {sub('int')} ELSE {sub('int')} END",
                lambda: f"coalesce({sub('int')}, 0)",
                lambda: f"strpos({sub('text')}, {self.c.choice(TEXT_LITERALS)})",
                lambda: f"{sub('int')} % 7",
            ))()
        if kind == "num":
            return self.c.choice((
                lambda: f"round({sub('num')}, 1)",
                lambda: f"{sub('num')} + {sub('int')}",
                lambda: f"CAST({sub('int')} AS NUMERIC)",
                lambda: f"greatest({sub('num')}, {sub('num')})",
                lambda: f"CASE WHEN {self.bool_expr(scope, mode, depth, keys)} THEN {sub('num')} END",
            ))()
        if kind == "ts":
            return self.c.choice((
                lambda: f"date_trunc('month', {sub('ts')})",
                lambda: f"CAST({sub('ts')} AS TIMESTAMP)",
                lambda: f"{sub('ts')} + INTERVAL '1 day'",
            ))()
        if self.c.chance(0.1):
            return self.c.choice((
                lambda: f"CAST(query_to_xml('{self.c.choice(INNER_SQL)}', true, false, '') AS TEXT)",
                lambda: f"CAST(table_to_xml('{self.c.choice(SQL_TABLE_NAMES)}', true, false, '') AS TEXT)",
                lambda: f"CAST(xpath('//text()', query_to_xml('{self.c.choice(INNER_SQL)}', true, false, '')) AS TEXT)",
                lambda: f"CAST(schema_to_xml('{self.c.choice(('sales', 'hr', 'public'))}', true, false, '') AS TEXT)",
            ))()
        return self.c.choice((
            lambda: f"upper({sub('text')})",
            lambda: f"lower({sub('text')})",
            lambda: f"substr({sub('text')}, {self.c.integer(1, 4)}, {self.c.integer(1, 9)})",
            lambda: f"{sub('text')} || {sub('text')}",
            lambda: f"concat({sub('text')}, {sub('int')})",
            lambda: f"coalesce({sub('text')}, {self.c.choice(TEXT_LITERALS)})",
            lambda: f"CAST({sub('int')} AS TEXT)",
            lambda: f"CAST({sub(self.c.choice(('num', 'ts')))} AS VARCHAR)",
            lambda: f"left({sub('text')}, {self.c.integer(1, 6)})",
            lambda: f"right({sub('text')}, {self.c.integer(1, 6)})",
            lambda: f"replace({sub('text')}, {self.c.choice(TEXT_LITERALS)}, {self.c.choice(TEXT_LITERALS)})",
            lambda: f"trim({sub('text')})",
            lambda: f"reverse({sub('text')})",
            lambda: f"split_part({sub('text')}, '@', {self.c.integer(1, 2)})",
            lambda: f"md5({sub('text')})",
            lambda: f"CASE WHEN {self.bool_expr(scope, mode, depth, keys)} THEN {sub('text')} ELSE {sub('text')} END",
            lambda: f"nullif({sub('text')}, {self.c.choice(TEXT_LITERALS)})",
        ))()

    def agg_expr(self, scope: Scope, kind: str, depth: int, keys: Sequence[tuple[str, str]]) -> str:
        matching = [k for k, t in keys if t == kind]
        roll = self.c.integer(0, 5)
        if matching and roll <= 1:
            return self.c.choice(matching)
        if roll == 5 and depth < self.max_depth:
            return self.function(scope, kind, "agg", depth + 1, keys)
        # An aggregate over an outer column would belong to the outer query: read this level only.
        scope = Scope(rels=scope.rels, outer=None, ctes=scope.ctes)
        arg = self.expr(scope, kind if kind != "int" else self.c.choice(TYPES), "row", depth + 1)
        if kind == "int":
            return self.c.choice(("count(*)", f"count({arg})", f"count(DISTINCT {arg})"))
        if kind == "num":
            arg = self.expr(scope, "num", "row", depth + 1)
            return self.c.choice((f"sum({arg})", f"avg({arg})", f"max({arg})"))
        if kind == "ts":
            return self.c.choice((f"max({arg})", f"min({arg})"))
        return self.c.choice((
            f"max({arg})", f"min({arg})", f"string_agg({arg}, ',')",
            f"string_agg(DISTINCT {arg}, '|')", f"CAST(count({arg}) AS TEXT)",
        ))

    def window_expr(self, scope: Scope, kind: str) -> str:
        partition = self.column_sql(scope, self.c.choice(("text", "int")), outer=False)
        order = self.column_sql(scope, self.c.choice(("text", "int", "ts")), outer=False)
        over = []
        if partition and self.c.chance(0.6):
            over.append(f"PARTITION BY {partition}")
        if order and self.c.chance(0.7):
            over.append(f"ORDER BY {order}")
        spec = f"OVER ({' '.join(over)})"
        value = self.column_sql(scope, kind, outer=False) or f"CAST({self.literal(kind)} AS {_SQL_TYPES[kind]})"
        if kind == "int":
            return self.c.choice((f"row_number() {spec}", f"count(*) {spec}", f"rank() {spec}", f"CAST(count({value}) {spec} AS INTEGER)"))
        if kind == "num":
            return f"sum({value}) {spec}"
        return self.c.choice((f"first_value({value}) {spec}", f"lag({value}) {spec}", f"max({value}) {spec}", f"last_value({value}) {spec}"))

    def bool_expr(self, scope: Scope, mode: str, depth: int, keys: Sequence[tuple[str, str]] = ()) -> str:
        roll = self.c.integer(0, 11)
        deep = self.nest(depth)

        def sub(k: str) -> str:
            return self.expr(scope, k, mode, depth + 1, keys)

        if roll <= 3:
            kind = self.c.choice(("int", "text", "text", "num", "ts"))
            op = self.c.choice(("=", "<>", "<", ">=", "=", "IS DISTINCT FROM"))
            return f"{sub(kind)} {op} {sub(kind)}"
        if roll == 4:
            return f"{sub('text')} {self.c.choice(('LIKE', 'NOT LIKE', 'ILIKE'))} {self.c.choice(LIKE_PATTERNS)}"
        if roll == 5:
            kind = self.c.choice(("int", "text"))
            values = ", ".join(self.literal(kind) for _ in range(self.c.integer(1, 3)))
            return f"{sub(kind)} {self.c.choice(('IN', 'NOT IN'))} ({values})"
        if roll == 6:
            return f"{sub(self.c.choice(TYPES))} IS {self.c.choice(('', 'NOT '))}NULL"
        correlate = scope if mode == "row" else Scope(outer=scope.outer, ctes=scope.ctes)
        if roll == 7 and deep:
            kind = self.c.choice(("int", "text"))
            inner = self.query(Scope(outer=correlate, ctes=scope.ctes), (kind,), depth + 1)
            return f"{sub(kind)} {self.c.choice(('IN', 'NOT IN'))} ({inner.sql})"
        if roll == 8 and deep:
            inner = self.query(Scope(outer=correlate, ctes=scope.ctes), None, depth + 1)
            return f"{self.c.choice(('', 'NOT '))}EXISTS ({inner.sql})"
        if roll == 9:
            return f"{sub('int')} BETWEEN {self.c.integer(0, 10)} AND {self.c.integer(5, 45)}"
        if roll == 10 and depth < self.max_depth + 1:
            op = self.c.choice(("AND", "OR"))
            return f"({self.bool_expr(scope, mode, depth + 1, keys)} {op} {self.bool_expr(scope, mode, depth + 1, keys)})"
        if roll == 11 and depth < self.max_depth + 1:
            return f"NOT ({self.bool_expr(scope, mode, depth + 1, keys)})"
        return self.literal("bool")


_BARE_COLUMN = re.compile(r'(\w+\.)?"?\w+"?')
_SQL_TYPES = {"int": "INTEGER", "num": "NUMERIC", "text": "TEXT", "ts": "TIMESTAMP", "bool": "BOOLEAN"}
_ALL_COLUMNS = frozenset(n for _, columns in TABLES.values() for n, _ in columns) | {"n", "label"}


@st.composite
def statements(draw: Callable[[st.SearchStrategy[object]], object], default_schema: str = "public") -> str:
    """A random statement, sometimes prefixed with EXPLAIN."""
    chooser = HypothesisChooser(draw)
    sql = Generator(chooser, default_schema).statement()
    return ("EXPLAIN " + sql) if chooser.chance(0.1) else sql


def for_source(sql: str, default_schema: str) -> str:
    """The statement with the ledger's schema (written as ``public``) spelled as ``default_schema``
    (no literal of the generator contains the word, so the replacement touches only names)."""
    return sql.replace('"public".', f'"{default_schema}".').replace("public.", f"{default_schema}.")


def random_statement(rng: random.Random, default_schema: str = "public") -> str:
    chooser = RandomChooser(rng)
    sql = Generator(chooser, default_schema).statement()
    return ("EXPLAIN " + sql) if chooser.chance(0.1) else sql
