"""Cross-source planning: what each source runs, and what Veil joins locally.

A statement whose tables all share one connection key is pushed down whole
(:func:`veil.planner.pushdown.plan_single_source`). Otherwise each source receives the largest part
that belongs to it alone, a *fragment*, and the rest of the statement runs on the local engine (an
in-memory DuckDB) over the fragments' Arrow results, registered there as tables:

* a subquery, CTE or derived table that one source can answer alone and that does real work
  (joins, aggregates, DISTINCT, LIMIT, set operations) is sent whole (:mod:`veil.planner.federation.subqueries`);
* tables of one connection key that a SELECT combines with inner joins travel together as one
  fragment, with the join conditions and filters among them (see :mod:`veil.planner.federation.fragments`);
* every other table reference becomes a fragment of its own: its policy-protected derived table
  (built by the same ``protect`` callback as single-source pushdown, so masks and row filters are
  applied at the source exactly as before), projecting only the columns the statement uses, with
  the statement's conditions on that table alone, and pre-aggregated when the statement only
  aggregates it (:mod:`veil.planner.federation.preaggregate`).

A condition moves into a fragment only when that cannot change the result: it references one
fragment's tables only (every column provably theirs), contains no subquery, aggregate or window,
and the table is not on the NULL-extended side of an outer join (conditions of a LEFT JOIN's own
ON clause may move into its right-hand table). Everything here is pure: ASTs in, SQL text out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlglot import exp

from veil.catalog.model import Table
from veil.errors import FeatureNotSupported
from veil.pgcatalog import pgjsonb, pgtemporal
from veil.pgcatalog.domains import check_constant_casts, guard_domains
from veil.pgcatalog.exactcalls import exact_calls, refuse_inexact
from veil.pgcatalog.floatcheck import float_overflow_checks
from veil.pgcatalog.pgnumeric import TypeOf, postgres_numerics
from veil.pgcatalog.prorettype import postgres_function_results
from veil.pgtypes import ColumnType
from veil.planner.federation.dynamic_filter import DynamicFilter, FragmentInfo, plan_dynamic_filters
from veil.planner.federation.enum_order import mark_enum_ordering, refuse_enum_ordering
from veil.planner.federation.fragments import (
    PART_PREFIX,
    Fragment,
    FragmentBuilder,
    Placement,
    render,
)
from veil.planner.federation.preaggregate import REPLACES
from veil.planner.federation.subqueries import push_whole_subqueries
from veil.planner.pushdown import (
    Analysis,
    Protector,
    SourcePlan,
    column_type_resolver,
    numeric_typing,
    pinned_outputs,
    plan_single_source,
    rewritten_copy,
)
from veil.policy.allowlist import check_sql
from veil.sql.colnames import name_outputs
from veil.sql.params import cast_declared_parameters, infer_param_oids

LOCAL_DIALECT = "duckdb"


@dataclass(frozen=True)
class FederatedPlan:
    """Fragments on their sources, then ``local_sql`` (DuckDB) over their results."""

    fragments: tuple[Fragment, ...]
    local_sql: str
    local_params: tuple[int, ...]  # statement parameter positions bound to the local $1..$n
    tables: tuple[Table, ...]
    param_oids: tuple[int, ...]
    single_scan: frozenset[str] = frozenset()  # fragments the local part reads exactly once
    dynamic_filters: tuple[DynamicFilter, ...] = ()  # sources read first, targets sent filtered
    protected: frozenset[str] = frozenset()  # what fragments may read (veil.planner.verify)
    numeric_columns: tuple[tuple[int, int], ...] = ()  # (output column, typmod) of numeric ones
    parameter_columns: tuple[tuple[int, int], ...] = ()  # bare ``$n`` outputs: not typed here yet
    pinned_columns: tuple[tuple[int, int, int], ...] = ()  # (output column, type OID, typmod)

    @property
    def connections(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.connection for f in self.fragments))

    @property
    def pushed_sql(self) -> tuple[str, ...]:
        return tuple(f.sql for f in self.fragments)


def plan_query(
    statement: exp.Expr,
    analysis: Analysis,
    declared_param_oids: Sequence[int],
    sources: Mapping[str, Placement],
    protect: Protector | None = None,
) -> SourcePlan | FederatedPlan:
    """Push the whole statement down when every table shares one connection key, else federate."""
    keys = {sources[ref.table.connection].connection_key for ref in analysis.user_tables}
    if len(keys) <= 1:
        dialect = sources[analysis.user_tables[0].table.connection].dialect
        return plan_single_source(statement, analysis, declared_param_oids, dialect, protect)
    return plan_federated(statement, analysis, declared_param_oids, sources, protect)


def plan_federated(
    statement: exp.Expr,
    analysis: Analysis,
    declared_param_oids: Sequence[int],
    sources: Mapping[str, Placement],
    protect: Protector | None = None,
) -> FederatedPlan:
    if analysis.reads_catalog:
        raise FeatureNotSupported("a query cannot combine catalog relations and data tables")
    param_oids = infer_param_oids(statement, declared_param_oids, column_type_resolver(analysis.user_tables))
    rewritten, refs = rewritten_copy(statement, analysis)
    name_outputs(rewritten)  # before aggregates are rewritten to combine partial results
    cast_declared_parameters(rewritten, declared_param_oids, "duckdb")  # after naming: $1 stays ?column?
    typer, numeric = numeric_typing(rewritten, analysis)  # PostgreSQL's types, before the cut
    pinned = pinned_outputs(typer, rewritten) if typer is not None else ()
    if typer is not None:
        pgtemporal.annotate(rewritten, typer.type_of)
        pgjsonb.annotate(rewritten, typer.type_of)
    mark_enum_ordering(rewritten, analysis)
    builder = FragmentBuilder(rewritten, refs, sources, protect)
    push_whole_subqueries(builder)
    for select in list(rewritten.find_all(exp.Select)):
        builder.push_inner_join_groups(select)
    remaining = list(builder.user_tables())
    conditions = [builder.take_conditions(node, table) for node, table in remaining]
    for (node, table), taken in zip(remaining, conditions, strict=True):
        builder.push_table(node, table, taken)
    if typer is not None:  # the local part computes PostgreSQL's numbers as a DuckDB source does
        exact_calls(rewritten, _combined_types(typer.type_of))
        postgres_function_results(rewritten, _combined_types(typer.type_of))
        rewritten = postgres_numerics(rewritten, _combined_types(typer.type_of), typer.projections_for)
        float_overflow_checks(rewritten, _combined_types(typer.type_of))
    refuse_inexact(rewritten)
    check_constant_casts(rewritten)
    guard_domains(rewritten)
    refuse_enum_ordering(rewritten)
    scanned_once = single_scans(rewritten)
    local_sql, local_params = render(rewritten, LOCAL_DIALECT)
    dynamic = plan_dynamic_filters(rewritten, [fragment_info(f) for f in builder.parts])
    for fragment in builder.parts:
        check_sql(fragment.sql, sources[fragment.connection].dialect)
    check_sql(local_sql, LOCAL_DIALECT)
    return FederatedPlan(
        fragments=tuple(builder.parts),
        local_sql=local_sql,
        local_params=local_params,
        tables=tuple(ref.table for ref in analysis.user_tables),
        param_oids=tuple(param_oids),
        single_scan=scanned_once,
        dynamic_filters=dynamic,
        numeric_columns=numeric,
        pinned_columns=pinned,
    )


def _combined_types(type_of: TypeOf) -> TypeOf:
    """``type_of`` that types a node combining partial aggregates as the aggregate it replaced."""

    def combined(node: exp.Expr) -> ColumnType | None:
        original = node.meta.get(REPLACES) if node.meta else None
        return type_of(original if isinstance(original, exp.Expr) else node)

    return combined


def fragment_info(fragment: Fragment) -> FragmentInfo:
    """What dynamic filter planning needs of a fragment: its output names when its SQL lists
    them (no ``*``), its key columns and how selective its own conditions look."""
    tree = fragment.tree
    outputs = None
    if isinstance(tree, exp.Select) and not any(isinstance(e, exp.Star) for e in tree.expressions):
        outputs = frozenset(e.alias_or_name for e in tree.expressions)
    return FragmentInfo(fragment.name, outputs, fragment.keys, fragment.selectivity)


def single_scans(local: exp.Expr) -> frozenset[str]:
    """The fragments the local part names exactly once and outside every CTE body: DuckDB scans
    those once, so they may be streamed into it (a RecordBatchReader can be read only once; a
    CTE may be inlined at each of its references)."""
    names = Counter(
        node.name for node in local.find_all(exp.Table) if node.name.startswith(PART_PREFIX) and not node.args.get("db")
    )
    in_cte = {node.name for cte in local.find_all(exp.CTE) for node in cte.find_all(exp.Table)}
    return frozenset(name for name, count in names.items() if count == 1 and name not in in_cte)


__all__ = ["FederatedPlan", "Fragment", "Placement", "plan_federated", "plan_query", "single_scans"]
