"""What ``veil explain`` and ``EXPLAIN`` print: where a statement runs, the SQL each source
receives, which policies shaped the result and why the others did not."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlglot

from veil.admin.audit import AppliedPolicy
from veil.catalog.model import Table
from veil.policy.principals import User
from veil.policy.resolve import why_not_applied

if TYPE_CHECKING:
    from veil.engine.engine import QueryEngine


def explain_lines(
    engine: QueryEngine,
    user: User,
    where: str,
    pushed: list[tuple[str, str, str]],
    tables: tuple[Table, ...],
    applied: tuple[AppliedPolicy, ...],
    local_sql: str | None = None,
    dynamic_filters: list[str] | None = None,
) -> list[str]:
    """``pushed`` is (connection, dialect, sql) per source query; ``local_sql`` is what the local
    engine runs over their results (registered as ``__veil_part_<n>``, in that order);
    ``dynamic_filters`` describe the keys a fragment is sent once its sources are read (the SQL
    above is as planned: the keys are only known when the statement runs)."""
    lines = [f"Runs on: {where}"]
    for position, (connection, dialect, sql) in enumerate(pushed):
        name = f" -> __veil_part_{position}" if local_sql is not None else ""
        lines.append(f"SQL sent to connection {connection} ({dialect}){name}:")
        pretty = sqlglot.transpile(sql, read=dialect, write=dialect, pretty=True)[0]
        lines.extend("  " + line for line in pretty.splitlines())
    if local_sql is not None:
        lines.append("Local part (Veil's in-memory DuckDB):")
        pretty = sqlglot.transpile(local_sql, read="duckdb", write="duckdb", pretty=True)[0]
        lines.extend("  " + line for line in pretty.splitlines())
    if dynamic_filters:
        lines.append("Dynamic filters (source read first, target sent WHERE key IN its keys):")
        lines.extend(f"  {line}" for line in dynamic_filters)
    if tables:
        lines.append("Policies applied:")
        if not applied:
            lines.append("  (none)")
        for shown in applied:
            columns = f" on {', '.join(shown.columns)}" if shown.columns else ""
            lines.append(f"  {shown.kind} \"{shown.name}\" on {shown.table}{columns}")
        applied_names = {(p.name, p.table) for p in applied}
        raw = {t.oid: t for t in engine.catalog.snapshot}
        lines.append("Policies not applied:")
        for table in tables:
            for policy in engine.config.policies:
                if policy.subscription is not None or (policy.name, table.qualified_name) in applied_names:
                    continue
                raw_table = raw.get(table.oid, table)
                reason = why_not_applied(
                    user, raw_table, policy, engine.table_config(raw_table),
                    engine.discovered_tags(raw_table),
                )
                lines.append(f"  \"{policy.name}\" on {table.qualified_name}: {reason or 'overridden by a deeper tag or earlier policy'}")
    return lines
