"""Admin views (``veil.tables``, ``veil.columns``, ``veil.policies``, ``veil.audit``, ``veil.cache``).

They exist only for admin users: for everyone else the ``veil`` schema is as absent as any table
they are not subscribed to. A query over them runs on a private in-memory DuckDB holding just
these views as Arrow tables, with external access disabled.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import duckdb
import pyarrow as pa
from sqlglot import exp

from veil.catalog.model import CatalogSnapshot
from veil.config.models import VeilConfig

ADMIN_SCHEMA = "veil"
ADMIN_RELATIONS = frozenset({"tables", "columns", "policies", "audit", "cache"})
_AUDIT_SCHEMA = pa.schema(
    [
        ("time", pa.string()), ("user", pa.string()), ("client_address", pa.string()),
        ("application_name", pa.string()), ("statement", pa.string()), ("tables", pa.list_(pa.string())),
        ("connections", pa.list_(pa.string())), ("pushed_sql", pa.list_(pa.string())),
        ("policies", pa.string()), ("outcome", pa.string()), ("sqlstate", pa.string()),
        ("error", pa.string()), ("rows", pa.int64()), ("bytes", pa.int64()),
        ("duration_ms", pa.float64()), ("cache_hit", pa.bool_()),
    ]
)


def tables_view(snapshot: CatalogSnapshot, config: VeilConfig) -> pa.Table:
    rows = [
        {
            "connection": t.connection,
            "schema": t.schema,
            "table": t.name,
            "source_schema": t.source_schema,
            "source_table": t.source_name,
            "columns": len(t.columns),
            "tags": list(config.tables.get(t.source_key).table_tags) if t.source_key in config.tables else [],
            "status": "active",
        }
        for t in snapshot
    ]
    schema = pa.schema(
        [("connection", pa.string()), ("schema", pa.string()), ("table", pa.string()),
         ("source_schema", pa.string()), ("source_table", pa.string()), ("columns", pa.int64()),
         ("tags", pa.list_(pa.string())), ("status", pa.string())]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def columns_view(snapshot: CatalogSnapshot, config: VeilConfig) -> pa.Table:
    rows = []
    for t in snapshot:
        tags = config.tables[t.source_key].tags if t.source_key in config.tables else {}
        for column in t.columns:
            rows.append(
                {
                    "connection": t.connection, "schema": t.schema, "table": t.name,
                    "column": column.name, "type": column.pg_type.format(),
                    "tags": list(tags.get(column.name, [])), "status": "active",
                }
            )
    schema = pa.schema(
        [("connection", pa.string()), ("schema", pa.string()), ("table", pa.string()),
         ("column", pa.string()), ("type", pa.string()), ("tags", pa.list_(pa.string())),
         ("status", pa.string())]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def policies_view(config: VeilConfig) -> pa.Table:
    rows = []
    for position, policy in enumerate(config.policies, 1):
        kind = next(k for k in ("subscription", "mask", "row_filter", "time_window", "minimize") if getattr(policy, k))
        body = getattr(policy, kind)
        rows.append(
            {"position": position, "name": policy.name, "kind": kind,
             "definition": json.dumps(body.model_dump(mode="json", by_alias=True, exclude_defaults=True))}
        )
    schema = pa.schema([("position", pa.int64()), ("name", pa.string()), ("kind", pa.string()), ("definition", pa.string())])
    return pa.Table.from_pylist(rows, schema=schema)


def audit_view(config: VeilConfig) -> pa.Table:
    path = config.audit.path
    if path is None or not path.exists() or path.stat().st_size == 0:
        return _AUDIT_SCHEMA.empty_table()
    lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    for record in records:
        record["policies"] = json.dumps(record.get("policies", []))
    return pa.Table.from_pylist(records, schema=_AUDIT_SCHEMA)


def cache_view(summary: dict[str, int]) -> pa.Table:
    return pa.Table.from_pylist([summary], schema=pa.schema([(name, pa.int64()) for name in summary]))


ViewBuilder = Callable[[], pa.Table]


def run_admin_query(statement: exp.Expression, views: dict[str, ViewBuilder]) -> pa.Table:
    """Run a query over admin views only, on a throwaway locked-down DuckDB."""
    rewritten = statement.copy()
    connection = duckdb.connect(config={"enable_external_access": False})
    try:
        for node in list(rewritten.find_all(exp.Table)):
            if node.db.lower() == ADMIN_SCHEMA and node.name.lower() in views:
                name = f"veil_admin_{node.name.lower()}"
                connection.register(name, views[node.name.lower()]())
                replacement = exp.Table(this=exp.Identifier(this=name, quoted=True))
                replacement.set("alias", node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(node.name.lower())))
                node.replace(replacement)
        return connection.sql(rewritten.sql("duckdb")).to_arrow_table()
    finally:
        connection.close()
