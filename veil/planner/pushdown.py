"""Resolve a query's table references and plan where it runs.

Every table reference is one of: a CTE defined in the statement, an emulated catalog relation
(``pg_catalog``/``information_schema``), a table function, or a user table the caller may see. A
name that is none of these fails with 42P01 exactly as if the table did not exist, so a user learns
nothing about tables they are not subscribed to. Statements without user tables run on the local
engine; statements whose user tables all live on one source are rewritten to the source's names and
transpiled to its dialect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from veil.admin.views import ADMIN_RELATIONS, ADMIN_SCHEMA, admin_function
from veil.catalog.model import CatalogSnapshot, Table
from veil.catalog.naming import folds_to_upper
from veil.catalog.sources.plugins import for_dialect
from veil.errors import FeatureNotSupported, UndefinedTable
from veil.pgcatalog import pgjsonb, pgtemporal
from veil.pgcatalog.conditions import check_conditions
from veil.pgcatalog.domains import check_constant_casts, guard_domains
from veil.pgcatalog.exactcalls import exact_calls, needs_exact_call, refuse_inexact
from veil.pgcatalog.floatcheck import float_overflow_checks
from veil.pgcatalog.infer import TableTyper
from veil.pgcatalog.pgnumeric import postgres_numerics
from veil.pgcatalog.prorettype import postgres_function_results
from veil.pgtypes import NUMERIC, ColumnType
from veil.policy.allowlist import FRONT, check_functions, check_sql
from veil.policy.masks import bind_hash_key
from veil.sql.colnames import name_outputs
from veil.sql.ctes import UnresolvableScopes, cte_bindings, rename_ctes
from veil.sql.params import (
    cast_array_parameters,
    cast_declared_parameters,
    duckdb_literals,
    infer_param_oids,
    type_output_parameters,
)

CATALOG_SCHEMAS = frozenset({"pg_catalog", "information_schema"})


def identifier_name(identifier: exp.Expr | None) -> str:
    """PostgreSQL folds unquoted identifiers to lower case; quoted ones keep their case."""
    if not isinstance(identifier, exp.Identifier):
        return identifier.name if identifier is not None else ""
    return identifier.this if identifier.quoted else identifier.this.lower()


@dataclass(frozen=True)
class TableReference:
    node: exp.Table
    table: Table


@dataclass(frozen=True)
class Analysis:
    user_tables: tuple[TableReference, ...]
    reads_catalog: bool
    reads_admin: bool = False
    ctes: Mapping[int, int] = field(default_factory=dict)  # table node id -> CTE node id, by scope


def _cte_bindings(statement: exp.Expr) -> dict[int, int]:
    """CTE references resolved by scope; when the scopes cannot be built no reference is taken
    for a CTE, so every name is resolved as a table (fail closed: protected or 42P01)."""
    try:
        return cte_bindings(statement)
    except UnresolvableScopes:
        return {}


def analyze(
    statement: exp.Expr,
    snapshot: CatalogSnapshot,
    search_path: Sequence[str],
    catalog_relations: frozenset[str],
    is_admin: bool = False,
) -> Analysis:
    """Classify every table reference; unknown relations raise 42P01 (so do admin views for
    anyone but admins). A statement that reads user tables may call only functions some engine
    allows and none refuses; the local catalog engine checks the others against its own list."""
    ctes = _cte_bindings(statement)
    user_tables: list[TableReference] = []
    reads_catalog = False
    reads_admin = False
    for node in statement.find_all(exp.Table):
        if not isinstance(node.this, exp.Identifier):
            reads_admin = admin_function(node, is_admin) or reads_admin  # veil.sync(...)
            continue  # a table function such as generate_series(...)
        name = identifier_name(node.this)
        schema = identifier_name(node.args.get("db")) if node.args.get("db") else None
        database = identifier_name(node.args.get("catalog")) if node.args.get("catalog") else None
        if database is not None and database != "veil":
            raise FeatureNotSupported(f"cross-database references are not implemented: {node.sql('postgres')}")
        if id(node) in ctes:
            continue
        if schema in CATALOG_SCHEMAS:
            reads_catalog = True
            continue
        if schema == ADMIN_SCHEMA and is_admin and name in ADMIN_RELATIONS:
            reads_admin = True
            continue
        table = snapshot.lookup(schema, name) if schema else snapshot.find(name, search_path)
        if table is not None:
            user_tables.append(TableReference(node, table))
            continue
        if schema is None and name in catalog_relations:
            reads_catalog = True
            continue
        raise UndefinedTable(f"{schema}.{name}" if schema else name)
    if reads_admin and (user_tables or reads_catalog):
        raise FeatureNotSupported("admin views cannot be combined with other relations in one query")
    if user_tables:
        check_functions(statement, FRONT)
    return Analysis(tuple(user_tables), reads_catalog, reads_admin, ctes)


def column_type_resolver(references: Sequence[TableReference]):
    """Find a column's type among the statement's user tables (for parameter inference)."""
    by_alias: dict[str, Table] = {}
    for ref in references:
        by_alias[ref.node.alias_or_name.lower()] = ref.table
        by_alias[ref.table.name] = ref.table

    def resolve(column: exp.Column) -> ColumnType | None:
        name = identifier_name(column.this)
        qualifier = column.table.lower() if column.table else None
        candidates = [by_alias[qualifier]] if qualifier in by_alias else list(by_alias.values())
        for table in candidates:
            found = table.column(name)
            if found is not None:
                return found.pg_type
        return None

    return resolve


@dataclass(frozen=True)
class SourcePlan:
    """A statement that runs entirely on one source (every table shares one connection key)."""

    connection: str
    sql: str
    tables: tuple[Table, ...]
    param_oids: tuple[int, ...]
    key_param: int | None = None  # the $n sent the hash key (after the statement's parameters)
    protected: frozenset[str] = frozenset()  # what ``sql`` may read (veil.planner.verify)
    numeric_columns: tuple[tuple[int, int], ...] = ()  # (output column, typmod) of numeric ones
    parameter_columns: tuple[tuple[int, int], ...] = ()  # (output column, type OID) of bare ``$n``
    pinned_columns: tuple[tuple[int, int, int], ...] = ()  # (output column, type OID, typmod): see pinned_outputs

    @property
    def connections(self) -> tuple[str, ...]:
        """Every connection whose tables the statement reads (they share one connection key)."""
        return tuple(dict.fromkeys((self.connection, *(t.connection for t in self.tables))))

    @property
    def pushed_sql(self) -> tuple[str, ...]:
        return (self.sql,)


def quoted(name: str) -> exp.Identifier:
    return exp.Identifier(this=name, quoted=True)


Protector = Callable[[Table, exp.Table], "exp.Subquery | None"]


def rewritten_copy(statement: exp.Expr, analysis: Analysis) -> tuple[exp.Expr, dict[int, TableReference]]:
    """A copy of ``statement`` and its user table nodes (by ``id``) mapped to their references.

    Column qualifiers ``schema.table.column`` lose the schema when the table carries no alias:
    such a table is aliased by its Veil name once replaced, so ``orders.id`` keeps resolving.
    CTEs get unique internal names (:func:`veil.sql.ctes.rename_ctes`), bound by scope.
    """
    rewritten = statement.copy()
    originals = {id(ref.node): ref for ref in analysis.user_tables}
    replacements = {}
    copied = {id(o): c for o, c in zip(statement.find_all(exp.CTE), rewritten.find_all(exp.CTE), strict=True)}
    bindings: dict[int, int] = {}
    for node, copy in zip(statement.find_all(exp.Table), rewritten.find_all(exp.Table), strict=True):
        ref = originals.get(id(node))
        if ref is not None:
            replacements[id(copy)] = ref
        cte = analysis.ctes.get(id(node))
        if cte is not None and cte in copied:
            bindings[id(copy)] = id(copied[cte])
    rename_ctes(rewritten, bindings)
    unaliased = [
        (copy, ref) for copy in rewritten.find_all(exp.Table)
        if (ref := replacements.get(id(copy))) is not None and copy.args.get("alias") is None
    ]
    qualified_names = {(ref.table.schema, ref.table.name) for _, ref in unaliased}
    # d.t2 JOIN p.t2: each is aliased by its qualified name, its columns d.t2.id by that alias
    shared = {name for name in (n for _, n in qualified_names) if sum(1 for _, m in qualified_names if m == name) > 1}
    for copy, ref in unaliased:
        if ref.table.name in shared:
            copy.set("alias", exp.TableAlias(this=quoted(f"{ref.table.schema}.{ref.table.name}")))
    for column in rewritten.find_all(exp.Column):
        db = column.args.get("db")
        if db is None or (identifier_name(db), identifier_name(column.args.get("table"))) not in qualified_names:
            continue
        if identifier_name(column.args.get("table")) in shared:
            column.set("table", quoted(f"{identifier_name(db)}.{identifier_name(column.args.get('table'))}"))
        column.set("db", None)
    return rewritten, replacements


def replace_table(node: exp.Table, replacement: exp.Expr, default_alias: str) -> None:
    """Put ``replacement`` where ``node`` was, keeping its alias and what hangs off it: in
    ``FROM (a JOIN b ON ...)`` the join to ``b`` is an argument of the node ``a``."""
    replacement.set("alias", node.args.get("alias") or exp.TableAlias(this=quoted(default_alias)))
    for arg in ("joins", "laterals", "pivots"):
        if node.args.get(arg):
            replacement.set(arg, node.args[arg])
    node.replace(replacement)


def source_table(table: Table, dialect: str | None = None) -> exp.Table:
    """The table as its source names it: with its catalog where the source type's connection key
    spans databases (one statement may then read tables of several connections)."""
    if dialect is not None and table.source_database and for_dialect(dialect).three_part_names:
        return exp.Table(this=quoted(table.source_name), db=quoted(table.source_schema),
                         catalog=quoted(table.source_database))
    return exp.Table(this=quoted(table.source_name), db=quoted(table.source_schema))


def source_sql(tree: exp.Expr, dialect: str) -> str:
    """``tree`` (PostgreSQL names) as SQL in ``dialect``. Where the source folds unquoted names
    to upper case, every identifier is written quoted as PostgreSQL folds it (``c.id`` becomes
    ``"c"."id"``): it must find the lower-case names Veil serves, and name the result columns as
    PostgreSQL would."""
    if dialect == "duckdb":
        refuse_inexact(tree)
        check_constant_casts(tree)
        guard_domains(tree)
        duckdb_literals(tree)
        pgtemporal.duckdb_calls(tree)
        pgjsonb.duckdb_calls(tree)
    elif dialect == "postgres":
        pgtemporal.postgres_calls(tree)
    if folds_to_upper(dialect):
        return normalize_identifiers(tree, dialect="postgres").sql(dialect=dialect, identify=True)
    return tree.sql(dialect=dialect)


def renamed_columns(table: Table, raw: exp.Table) -> exp.Subquery:
    """``(SELECT "EMAIL" AS "email", ... FROM raw)``: the table with its served column names,
    for a table whose source spells some columns differently (the source flattens it)."""
    projections = [
        exp.alias_(exp.Column(this=quoted(c.raw_name)), quoted(c.name)) for c in table.columns
    ]
    return exp.Subquery(this=exp.Select(expressions=projections).from_(raw, copy=False))


def served_source(table: Table, dialect: str, protect: Protector | None) -> exp.Expr:
    """What a user's reference to ``table`` reads at its source: the policy-protected derived
    table, else the table itself (wrapped to serve its column names where they differ)."""
    raw = source_table(table, dialect)
    derived = protect(table, raw) if protect else None
    if derived is not None:
        return derived
    return renamed_columns(table, raw) if table.renames_columns else raw


_ARITHMETIC: tuple[type[exp.Expr], ...] = (exp.Div, exp.Add, exp.Sub, exp.Mul, exp.Mod, exp.Cast, exp.AggFunc)
#: Nodes DuckDB computes as PostgreSQL does only once typed (veil.pgcatalog.pgtemporal, pgjsonb).
_TYPED_CALLS = (exp.Extract, exp.TimestampTrunc, exp.ArrayContainsAll, exp.ArrayContainedBy)


def _computes_numbers(tree: exp.Expr) -> bool:
    """Whether anything in ``tree`` may compute a number differently in DuckDB (most point
    queries do not: they are planned without typing every node)."""
    if tree.find(*_ARITHMETIC, *_TYPED_CALLS) is not None or needs_exact_call(tree):
        return True
    if isinstance(tree, exp.Query) and any(not isinstance(p.unalias(), exp.Column | exp.Star) for p in tree.selects):
        return True  # a computed output column: its type (numeric typmod) is PostgreSQL's
    return any(not literal.is_string and "e" in literal.this.lower() for literal in tree.find_all(exp.Literal))


def postgres_results(
    tree: exp.Expr, analysis: Analysis
) -> tuple[exp.Expr, tuple[tuple[int, int], ...], tuple[tuple[int, int, int], ...]]:
    """``tree`` rewritten so DuckDB computes PostgreSQL's arithmetic, aggregate and date/time
    results (see :mod:`veil.pgcatalog.pgnumeric`, :mod:`veil.pgcatalog.pgtemporal`), the output
    columns that are ``numeric`` with their type modifiers (-1 for a computed value), as
    PostgreSQL describes them, and those :func:`pinned_outputs` pins."""
    typer, numeric = numeric_typing(tree, analysis)
    if typer is None:
        return tree, (), ()
    pinned = pinned_outputs(typer, tree)
    pgtemporal.annotate(tree, typer.type_of)
    pgjsonb.annotate(tree, typer.type_of)
    exact_calls(tree, typer.type_of)
    postgres_function_results(tree, typer.type_of)
    rewritten = postgres_numerics(tree, typer.type_of, typer.projections_for)
    float_overflow_checks(rewritten, typer.type_of)
    return rewritten, numeric, pinned


def numeric_typing(tree: exp.Expr, analysis: Analysis) -> tuple[TableTyper | None, tuple[tuple[int, int], ...]]:
    """PostgreSQL's types of every node of ``tree`` (None when nothing in it computes a number)
    and its ``numeric`` output columns (position, typmod). A federated plan types the statement
    before cutting it into fragments and rewrites its local part with these types."""
    if not _computes_numbers(tree):
        return None, ()
    typer = TableTyper(column_type_resolver(analysis.user_tables))
    for node in list(tree.walk()):
        typer.type_of(node)
    columns = typer.output_columns(tree) or []
    projections = tree.expressions if isinstance(tree, exp.Select) and len(tree.expressions) == len(columns) else []
    # a column, a cast to numeric(p, s) and nullif() keep their typmod; anything computed has none
    plain = {i for i, p in enumerate(projections) if isinstance(p.unalias(), exp.Column | exp.Cast | exp.Nullif)}
    numeric = tuple(
        (index, column.type.typmod if index in plain else -1) for index, column in enumerate(columns)
        if column.type is not None and column.type.oid in (NUMERIC.oid, NUMERIC.array_oid)
    )
    return typer, numeric


#: Types DuckDB has no own type for: an output column PostgreSQL types so is pinned to it.
_PINNED = frozenset({"jsonb", "varchar", "bpchar"})


def pinned_outputs(typer: TableTyper, tree: exp.Expr) -> tuple[tuple[int, int, int], ...]:
    """The output columns of ``tree`` PostgreSQL types as one of the types DuckDB computes under
    another (jsonb as json, varchar and char(n) as text): (position, type OID, typmod)."""
    columns = typer.output_columns(tree) or []
    direct = _direct_outputs(tree)
    return tuple(
        (index, column.type.oid, column.type.typmod if index in direct else -1)
        for index, column in enumerate(columns)
        if column.type is not None and column.type.type.name in _PINNED
    )


def _direct_outputs(query: exp.Expr) -> set[int]:
    """The output columns of ``query`` that are a cast or a column in every branch: PostgreSQL
    keeps a length (typmod) through those, not through CASE, COALESCE or a function."""
    if isinstance(query, exp.Subquery):
        return _direct_outputs(query.this)
    if isinstance(query, exp.SetOperation):
        return _direct_outputs(query.left) & _direct_outputs(query.right)
    if not isinstance(query, exp.Select):
        return set()
    return {i for i, s in enumerate(query.expressions) if isinstance(s.unalias(), exp.Cast | exp.Column)}


def plan_single_source(
    statement: exp.Expr,
    analysis: Analysis,
    declared_param_oids: Sequence[int],
    dialect: str,
    protect: Protector | None = None,
) -> SourcePlan:
    """Rewrite user table names to the source's names, replace each protected table by the
    derived table ``protect`` builds (masks and row filters), and transpile to the dialect.

    The caller guarantees that every table shares one connection key (see
    :func:`veil.planner.federation.plan.plan_query`); the statement runs on the first table's
    connection."""
    if analysis.reads_catalog:
        raise FeatureNotSupported("a query cannot combine catalog relations and data tables")
    param_oids = infer_param_oids(
        statement, declared_param_oids, column_type_resolver(analysis.user_tables)
    )
    check_conditions(statement, TableTyper(column_type_resolver(analysis.user_tables)).type_of)
    rewritten, replacements = rewritten_copy(statement, analysis)
    numeric_columns: tuple[tuple[int, int], ...] = ()
    pinned: tuple[tuple[int, int, int], ...] = ()
    if dialect == "duckdb":
        name_outputs(rewritten)  # named before the rewrite: 7 / 2 stays ?column?, not int4
        rewritten, numeric_columns, pinned = postgres_results(rewritten, analysis)
    for copy in list(rewritten.find_all(exp.Table)):
        ref = replacements.get(id(copy))
        if ref is None:
            continue
        replace_table(copy, served_source(ref.table, dialect, protect), ref.table.name)
    name_outputs(rewritten)
    parameter_columns = type_output_parameters(rewritten, param_oids, dialect)
    cast_declared_parameters(rewritten, declared_param_oids, dialect)  # after naming: $1 stays ?column?
    cast_array_parameters(rewritten, param_oids)
    key_param = len(param_oids) + 1 if bind_hash_key(rewritten, len(param_oids) + 1) else None
    sql = source_sql(rewritten, dialect)
    check_sql(sql, dialect)
    return SourcePlan(
        connection=analysis.user_tables[0].table.connection,
        sql=sql,
        tables=tuple(ref.table for ref in analysis.user_tables),
        param_oids=tuple(param_oids),
        key_param=key_param,
        numeric_columns=numeric_columns,
        parameter_columns=parameter_columns,
        pinned_columns=pinned,
    )
