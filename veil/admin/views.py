"""Admin views (``veil.tables``, ``veil.columns``, ``veil.policies``, ``veil.audit``, ``veil.cache``,
``veil.sync_history``, ``veil.config_problems``) and the table function ``veil.sync('connection', ...)`` (object sync now,
one row per change).

They exist only for admin users: for everyone else the ``veil`` schema is as absent as any table
they are not subscribed to. A query over them runs on a private in-memory DuckDB holding just
these views as Arrow tables, with external access disabled.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp
from sqlglot import parse_one as sqlglot_parse

from veil import errcodes
from veil.catalog.model import Table, tags_of
from veil.catalog.registry import Catalog
from veil.catalog.sources.sandbox import sandboxed_duckdb
from veil.catalog.store import CatalogStore
from veil.catalog.store import store_path as catalog_store_path
from veil.catalog.sync import SyncResult
from veil.config.models import VeilConfig
from veil.config.references import ConfigProblem
from veil.discovery.run import TableDiscovery
from veil.errors import UndefinedFunction
from veil.pgtypes import TEXT, column_type_for_arrow
from veil.state.tagstore import DiscoveredTags, read_discovered, store_path

try:  # DuckDB's binder, which types a statement's parameters from their context
    from duckdb import _seam as _duckdb_seam
except ImportError:  # pragma: no cover - other DuckDB releases: parameters are text
    _duckdb_seam = None  # type: ignore[assignment]  # the module's name stands for None: no seam here

ADMIN_SCHEMA = "veil"
ADMIN_RELATIONS = frozenset({"tables", "columns", "policies", "audit", "cache", "sync_history", "config_problems"})
ADMIN_FUNCTIONS = frozenset({"sync", "discover"})
NEW_TAG = "New"
SYNC_SCHEMA = pa.schema([("kind", pa.string()), ("object", pa.string()), ("detail", pa.string())])
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


def admin_function(node: exp.Table, is_admin: bool) -> bool:
    """True for a call of an admin table function (``FROM veil.sync('warehouse')``); for anyone
    but an admin the function does not exist."""
    db = node.args.get("db")
    if not isinstance(node.this, exp.Anonymous) or db is None or db.name.lower() != ADMIN_SCHEMA:
        return False
    name = node.this.name.lower()
    if not is_admin or name not in ADMIN_FUNCTIONS:
        raise UndefinedFunction(f"function {ADMIN_SCHEMA}.{name} does not exist")
    return True


def _listing(catalog: Catalog) -> Iterator[tuple[Table, str, str | None, str | None, str | None]]:
    """(table, status, collision, first seen, last seen) of every table sync registered."""
    if not catalog.entries:
        yield from ((t, "active", None, None, None) for t in catalog.snapshot)
        return
    for entry in catalog.entries:
        yield entry.table, entry.status, entry.collision, entry.stored.first_seen, entry.stored.last_seen


def tables_view(catalog: Catalog, config: VeilConfig) -> pa.Table:
    """One row per table; ``tags`` are the config's ``table_tags`` then the source's table tags."""
    rows = []
    stored = read_discovered(store_path(config.state_dir)) or DiscoveredTags()
    for t, status, collision, first_seen, last_seen in _listing(catalog):
        table_config = config.tables.get(t.source_key)
        tags = stored.table_tags(t.source_key, table_config.table_tags if table_config else ())
        rows.append(
            {
                "connection": t.connection, "schema": t.schema, "table": t.name,
                "source_schema": t.source_schema, "source_table": t.source_name, "columns": len(t.columns),
                "tags": list(tags), "status": status,
                "new_columns": len(t.new_columns), "collision": collision,
                "first_seen": first_seen, "last_seen": last_seen,
            }
        )
    schema = pa.schema(
        [("connection", pa.string()), ("schema", pa.string()), ("table", pa.string()),
         ("source_schema", pa.string()), ("source_table", pa.string()), ("columns", pa.int64()),
         ("tags", pa.list_(pa.string())), ("status", pa.string()), ("new_columns", pa.int64()),
         ("collision", pa.string()), ("first_seen", pa.string()), ("last_seen", pa.string())]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def columns_view(catalog: Catalog, config: VeilConfig) -> pa.Table:
    rows = []
    discovered = read_discovered(store_path(config.state_dir)) or DiscoveredTags()
    for t, status, _, _, _ in _listing(catalog):
        tags = config.tables[t.source_key].tags if t.source_key in config.tables else {}
        found = discovered.for_table(t.source_key)
        for column in t.columns:
            column_tags = list(tags_of(tags, column))
            column_tags += [tag for tag in tags_of(found, column) if tag not in column_tags]
            if column.name in t.new_columns:
                column_tags.append(NEW_TAG)
            rows.append(
                {
                    "connection": t.connection, "schema": t.schema, "table": t.name,
                    "column": column.name, "type": column.pg_type.format(),
                    "tags": column_tags, "status": status, "source_column": column.raw_name,
                }
            )
    schema = pa.schema(
        [("connection", pa.string()), ("schema", pa.string()), ("table", pa.string()),
         ("column", pa.string()), ("type", pa.string()), ("tags", pa.list_(pa.string())),
         ("status", pa.string()), ("source_column", pa.string())]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def sync_view(results: Sequence[SyncResult]) -> pa.Table:
    """One row per change; a connection whose crawl failed raises its error."""
    for result in results:
        if result.error is not None:
            raise result.error
    rows = [{"kind": c.kind, "object": c.object, "detail": c.detail} for r in results for c in r.changes]
    return pa.Table.from_pylist(rows, schema=SYNC_SCHEMA)


DISCOVER_SCHEMA = pa.schema(
    [("table", pa.string()), ("column", pa.string()), ("tag", pa.string()), ("categories", pa.list_(pa.string())),
     ("hit_rate", pa.float64()), ("values", pa.int64())]
)


def discover_view(results: Sequence[TableDiscovery]) -> pa.Table:
    """One row per column discovery tagged (``SELECT * FROM veil.discover('sales.*')``)."""
    rows = [
        {
            "table": result.table.qualified_name,
            "column": column.column,
            "tag": column.winner.classifier.tag,
            "categories": list(column.winner.classifier.categories),
            "hit_rate": column.winner.hit_rate,
            "values": column.values,
        }
        for result in results
        for column in result.tagged
        if column.winner is not None
    ]
    return pa.Table.from_pylist(rows, schema=DISCOVER_SCHEMA)


def sync_history_view(config: VeilConfig, limit: int = 200) -> pa.Table:
    """The latest sync runs (newest first), one row per change; a run without changes has one
    row with an empty ``kind``."""
    path = catalog_store_path(Path(config.state_dir))
    runs = []
    if path.exists():
        with CatalogStore(path) as store:
            runs = store.runs(limit=limit)
    rows = []
    for run in runs:
        base = {"run": run.id, "connection": run.connection, "trigger": run.trigger, "started_at": run.started_at,
                "finished_at": run.finished_at, "outcome": run.outcome, "error": run.error}
        changes = run.changes or (None,)
        rows += [
            {**base, "kind": c.kind if c else None, "object": c.object if c else None, "detail": c.detail if c else None}
            for c in changes
        ]
    schema = pa.schema(
        [("run", pa.int64()), ("connection", pa.string()), ("trigger", pa.string()), ("started_at", pa.string()),
         ("finished_at", pa.string()), ("outcome", pa.string()), ("error", pa.string()), ("kind", pa.string()),
         ("object", pa.string()), ("detail", pa.string())]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def function_arguments(call: exp.Anonymous) -> list[str]:
    arguments = []
    for argument in call.expressions:
        if not (isinstance(argument, exp.Literal) and argument.is_string):
            raise errcodes.InvalidParameterValue(f"{ADMIN_SCHEMA}.{call.name.lower()}() takes connection names as string literals")
        arguments.append(argument.this)
    return arguments


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


CONFIG_PROBLEMS_SCHEMA = pa.schema([("path", pa.string()), ("problem", pa.string()), ("suggestion", pa.string())])


def config_problems_view(problems: Sequence[ConfigProblem]) -> pa.Table:
    """References in the config that resolve to nothing (YAML path, problem, closest name)."""
    rows = [{"path": p.path, "problem": p.problem, "suggestion": p.suggestion} for p in problems]
    return pa.Table.from_pylist(rows, schema=CONFIG_PROBLEMS_SCHEMA)


def cache_view(summary: dict[str, int]) -> pa.Table:
    return pa.Table.from_pylist([summary], schema=pa.schema([(name, pa.int64()) for name in summary]))


ViewBuilder = Callable[[], pa.Table]
FunctionBuilder = Callable[[list[str]], pa.Table]


@dataclass(frozen=True)
class AdminDescription:
    """The result schema of an admin query and the PostgreSQL type OID of each ``$n``."""

    schema: pa.Schema
    param_oids: tuple[int, ...]


def describe_admin_query(
    statement: exp.Expr,
    views: dict[str, ViewBuilder],
    functions: dict[str, FunctionBuilder],
    param_count: int,
) -> AdminDescription:
    """Describe without running: DuckDB's binder names the result columns and types each ``$n``
    from where it appears (``"user" = $1`` is text, ``rows > $2`` is bigint)."""

    def describe(connection: duckdb.DuckDBPyConnection, sql: str) -> AdminDescription:
        if _duckdb_seam is None:  # no binder: run it without rows; parameters stay text
            limited = exp.select("*").from_(exp.paren(sqlglot_parse(sql, read="duckdb")).as_("veil_describe")).limit(0)
            schema = connection.sql(limited.sql("duckdb")).to_arrow_table().schema
            return AdminDescription(schema, (TEXT.oid,) * param_count)
        signature = _duckdb_seam.bind(connection, sql)
        schema = _duckdb_seam.arrow_schema(connection, list(signature.names), list(signature.types))
        return AdminDescription(schema, _param_oids(connection, dict(signature.parameters), param_count))

    return _over_views(statement, views, functions, describe)


def _param_oids(connection: duckdb.DuckDBPyConnection, types: dict[str, Any], count: int) -> tuple[int, ...]:
    names = [str(n) for n in range(1, count + 1)]
    if any(name not in types for name in names):
        return (TEXT.oid,) * count
    arrow = _duckdb_seam.arrow_schema(connection, names, [types[name] for name in names])
    return tuple(column_type_for_arrow(field.type).type.oid for field in arrow)


def run_admin_query(
    statement: exp.Expr,
    views: dict[str, ViewBuilder],
    functions: dict[str, FunctionBuilder] | None = None,
    params: Sequence[object | None] = (),
) -> pa.Table:
    """Run a query over admin views only, on a throwaway locked-down DuckDB."""

    def run(connection: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
        return connection.sql(sql, params=list(params) or None).to_arrow_table()

    return _over_views(statement, views, functions, run)


def _over_views(
    statement: exp.Expr,
    views: dict[str, ViewBuilder],
    functions: dict[str, FunctionBuilder] | None,
    run: Callable[[duckdb.DuckDBPyConnection, str], Any],
) -> Any:
    """``run`` the statement with each admin view and function replaced by its Arrow table."""
    rewritten = statement.copy()
    connection = sandboxed_duckdb(config={"ieee_floating_point_ops": False})
    try:
        for position, node in enumerate(list(rewritten.find_all(exp.Table))):
            if functions is not None and admin_function(node, True):
                call = node.this
                name = f"veil_admin_{call.name.lower()}_{position}"
                connection.register(name, functions[call.name.lower()](function_arguments(call)))
                replacement = exp.Table(this=exp.Identifier(this=name, quoted=True))
                replacement.set("alias", node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(call.name.lower())))
                node.replace(replacement)
                continue
            if node.db.lower() == ADMIN_SCHEMA and node.name.lower() in views:
                name = f"veil_admin_{node.name.lower()}"
                connection.register(name, views[node.name.lower()]())
                replacement = exp.Table(this=exp.Identifier(this=name, quoted=True))
                replacement.set("alias", node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(node.name.lower())))
                node.replace(replacement)
        return run(connection, rewritten.sql("duckdb"))
    finally:
        connection.close()
