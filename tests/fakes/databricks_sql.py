"""The SQL side of the fake Databricks warehouse: Databricks SQL in, DuckDB SQL out.

* Statements are parsed as Databricks SQL and transpiled to DuckDB by sqlglot, so the fake accepts
  what sqlglot understands, which is close to, not the same as, what a real warehouse accepts.
* ``<catalog>.information_schema.{catalogs,schemata,tables,columns,column_tags,table_tags}`` are answered in
  Databricks' shape: Databricks type names (``int``, ``decimal(10,2)``, ``array<string>``,
  ``timestamp`` vs ``timestamp_ntz``), a ``created`` time per table that changes when a table is
  dropped and created again, and real ``column_tags`` and ``table_tags`` tables tests fill with
  Unity Catalog tags.
* Native named parameters (``:name``) are inlined as typed literals.
* DuckDB errors come back worded the way Databricks words them: ``[ERROR_CLASS] message SQLSTATE: x``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import sqlglot
from sqlglot import exp

META = "__meta"  # the DuckDB catalog holding the information_schema tables and column tags
INFORMATION_SCHEMA_TABLES = ("catalogs", "schemata", "tables", "columns", "column_tags", "table_tags")
_BY_CATALOG_NAME = ("catalogs", "schemata", "column_tags", "table_tags")  # the others have table_catalog

META_DDL = f"""
CREATE TABLE {META}.main.column_tags (
    catalog_name VARCHAR, schema_name VARCHAR, table_name VARCHAR, column_name VARCHAR,
    tag_name VARCHAR, tag_value VARCHAR);
CREATE TABLE {META}.main.table_tags (
    catalog_name VARCHAR, schema_name VARCHAR, table_name VARCHAR, tag_name VARCHAR, tag_value VARCHAR);
CREATE TABLE {META}.main.created (
    table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, created TIMESTAMPTZ);
CREATE TABLE {META}.main.catalogs (catalog_name VARCHAR, catalog_owner VARCHAR, comment VARCHAR);
CREATE TABLE {META}.main.schemata (catalog_name VARCHAR, schema_name VARCHAR, schema_owner VARCHAR);
CREATE TABLE {META}.main.tables (
    table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, table_type VARCHAR,
    table_owner VARCHAR, comment VARCHAR, created TIMESTAMPTZ, created_by VARCHAR,
    last_altered TIMESTAMPTZ, data_source_format VARCHAR);
CREATE TABLE {META}.main.columns (
    table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, column_name VARCHAR,
    ordinal_position INTEGER, column_default VARCHAR, is_nullable VARCHAR, full_data_type VARCHAR,
    data_type VARCHAR, numeric_precision INTEGER, numeric_scale INTEGER, comment VARCHAR)
"""


class WarehouseError(Exception):
    """An error as a Databricks warehouse reports it."""

    def __init__(self, error_class: str, message: str, sqlstate: str) -> None:
        self.error_class, self.sqlstate = error_class, sqlstate
        super().__init__(f"[{error_class}] {message} SQLSTATE: {sqlstate}")


def databricks_type(duckdb_type: str) -> str:
    """``full_data_type`` as Databricks prints it: ``decimal(10,2)``, ``array<string>``."""
    if duckdb_type in ("HUGEINT", "UHUGEINT"):
        return "decimal(38,0)"
    built = exp.DataType.build(duckdb_type, dialect="duckdb")
    return built.sql("databricks").replace(", ", ",").replace(": ", ":").lower()


def _data_type(full: str) -> str:
    """``data_type``: the type's name without parameters (``DECIMAL``, ``ARRAY``)."""
    return re.split(r"[(<]", full, maxsplit=1)[0].upper()


def _precision(full: str) -> tuple[int | None, int | None]:
    match = re.fullmatch(r"decimal\((\d+),(\d+)\)", full)
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)


def refresh_information_schema(db: duckdb.DuckDBPyConnection, catalogs: list[str]) -> None:
    """Rebuild the information_schema tables from what DuckDB holds now (tags are kept)."""
    now = dt.datetime.now(dt.UTC)
    quoted = ", ".join("'" + c.replace("'", "''") + "'" for c in catalogs)
    tables = db.execute(
        f"SELECT database_name, schema_name, table_name FROM duckdb_tables() WHERE database_name IN ({quoted})"
    ).fetchall()
    known = {tuple(r[:3]) for r in db.execute(f"SELECT * FROM {META}.main.created").fetchall()}
    missing = [(*t, now) for t in tables if tuple(t) not in known]
    if missing:
        db.executemany(f"INSERT INTO {META}.main.created VALUES (?, ?, ?, ?)", missing)
    columns = db.execute(
        "SELECT database_name, schema_name, table_name, column_name, column_index, is_nullable, data_type "
        f"FROM duckdb_columns() WHERE database_name IN ({quoted})"
    ).fetchall()
    rows = []
    for catalog, schema, table, column, position, nullable, duck_type in columns:
        full = databricks_type(duck_type)
        precision, scale = _precision(full)
        rows.append((catalog, schema, table, column, position - 1, None, "YES" if nullable else "NO", full,
                     _data_type(full), precision, scale, None))
    schemata = db.execute(
        f"SELECT database_name, schema_name FROM duckdb_schemas() WHERE database_name IN ({quoted})"
    ).fetchall()
    for name in ("catalogs", "schemata", "tables", "columns"):
        db.execute(f"DELETE FROM {META}.main.{name}")
    db.executemany(f"INSERT INTO {META}.main.catalogs VALUES (?, 'owner', NULL)", [(c,) for c in catalogs])
    db.executemany(f"INSERT INTO {META}.main.schemata VALUES (?, ?, 'owner')", schemata)
    if rows:
        db.executemany(f"INSERT INTO {META}.main.columns VALUES ({', '.join('?' * 12)})", rows)
    db.execute(
        f"INSERT INTO {META}.main.tables SELECT t.database_name, t.schema_name, t.table_name, 'MANAGED', 'owner', "
        "NULL, c.created, 'owner', c.created, 'DELTA' FROM duckdb_tables() t JOIN "
        f"{META}.main.created c ON (c.table_catalog, c.table_schema, c.table_name) = "
        f"(t.database_name, t.schema_name, t.table_name) WHERE t.database_name IN ({quoted})"
    )


@dataclass(frozen=True)
class Translated:
    """A statement ready for DuckDB, and what the warehouse must do around it."""

    sql: str
    reads_information_schema: bool = False
    created: tuple[str, str, str] | None = None  # (catalog, schema, table) created or replaced
    dropped: tuple[str, str, str] | None = None
    use: tuple[str | None, str | None] | None = None  # (catalog, schema) of a USE statement


_USE = re.compile(r"^\s*USE\s+(CATALOG\s+|SCHEMA\s+|DATABASE\s+)?`?([\w$]+)`?(?:\.`?([\w$]+)`?)?\s*;?\s*$", re.IGNORECASE)


def _literal(value: str | None, type_name: str) -> exp.Expression:
    if value is None or type_name.upper() == "VOID":
        return exp.Null()
    target = exp.DataType.build(type_name, dialect="databricks")
    return exp.cast(exp.Literal.string(value), target)


def translate(sql: str, parameters: Mapping[str, tuple[str | None, str]], catalog: str, schema: str) -> Translated:
    """Databricks SQL (with ``:name`` parameters: name -> (value text, Databricks type)) to DuckDB."""
    use = _USE.match(sql)
    if use:
        kind = (use.group(1) or "").strip().upper()
        if kind == "CATALOG":
            return Translated("SELECT 1 WHERE false", use=(use.group(2), None))
        if use.group(3):
            return Translated("SELECT 1 WHERE false", use=(use.group(2), use.group(3)))
        return Translated("SELECT 1 WHERE false", use=(None, use.group(2)))
    try:
        statements = sqlglot.parse(sql, read="databricks")
    except sqlglot.errors.ParseError as exc:
        first = str(exc).splitlines()[0]
        raise WarehouseError("PARSE_SYNTAX_ERROR", f"Syntax error: {first}.", "42601") from None
    if len(statements) != 1 or statements[0] is None or isinstance(statements[0], exp.Command):
        raise WarehouseError("PARSE_SYNTAX_ERROR", "Syntax error at or near end of input.", "42601")
    tree = statements[0]
    reads_meta = False

    def rewrite(node: exp.Expression) -> exp.Expression:
        nonlocal reads_meta
        if isinstance(node, exp.Placeholder) and node.name:
            if node.name not in parameters:
                raise WarehouseError("UNBOUND_SQL_PARAMETER", f"Found the unbound parameter: {node.name}.", "42P02")
            return _literal(*parameters[node.name])
        if isinstance(node, exp.Table) and node.db.lower() == "information_schema":
            name = node.name.lower()
            if name not in INFORMATION_SCHEMA_TABLES:
                raise WarehouseError(
                    "TABLE_OR_VIEW_NOT_FOUND", f"The table or view `information_schema`.`{name}` cannot be found.", "42P01"
                )
            reads_meta = True
            owner = (node.catalog or catalog).lower()
            source = sqlglot.parse_one(f"SELECT * FROM {META}.main.{name}", read="duckdb")
            if owner != "system":
                key = "catalog_name" if name in _BY_CATALOG_NAME else "table_catalog"
                source = source.where(exp.column(key).eq(exp.Literal.string(owner)))
            alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(name))
            return exp.Subquery(this=source, alias=alias)
        return node

    tree = tree.transform(rewrite)
    created = dropped = None
    if isinstance(tree, exp.Create) and tree.kind == "TABLE":
        created = _qualified(tree.this.find(exp.Table) if not isinstance(tree.this, exp.Table) else tree.this, catalog, schema)
    if isinstance(tree, exp.Drop) and tree.kind == "TABLE":
        dropped = _qualified(tree.this, catalog, schema)
    return Translated(tree.sql("duckdb"), reads_meta, created, dropped)


def _qualified(table: exp.Table | None, catalog: str, schema: str) -> tuple[str, str, str] | None:
    if table is None:
        return None
    return (table.catalog or catalog, table.db or schema, table.name)


_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist")
_MISSING_COLUMN = re.compile(r'(?:Referenced column|column named) "([^"]+)"')


def warehouse_error(exc: BaseException) -> WarehouseError:
    """A DuckDB exception as a Databricks error."""
    if isinstance(exc, WarehouseError):
        return exc
    text = str(exc).split("\n")[0]
    if isinstance(exc, duckdb.InterruptException):
        return WarehouseError("OPERATION_CANCELED", "The operation was canceled.", "HY008")
    if isinstance(exc, duckdb.CatalogException):
        missing = _MISSING_TABLE.search(text)
        if missing:
            return WarehouseError(
                "TABLE_OR_VIEW_NOT_FOUND",
                f"The table or view `{missing.group(1).rstrip('!')}` cannot be found. Verify the spelling.",
                "42P01",
            )
        if "Catalog" in text and "does not exist" in text:
            return WarehouseError("NO_SUCH_CATALOG_EXCEPTION", "Catalog was not found.", "42704")
        if "Function" in text or "function" in text:
            return WarehouseError("UNRESOLVED_ROUTINE", text, "42883")
        return WarehouseError("TABLE_OR_VIEW_NOT_FOUND", text, "42P01")
    if isinstance(exc, duckdb.BinderException):
        missing = _MISSING_COLUMN.search(text)
        if missing:
            return WarehouseError(
                "UNRESOLVED_COLUMN.WITHOUT_SUGGESTION",
                f"A column, variable, or function parameter with name `{missing.group(1)}` cannot be resolved.",
                "42703",
            )
        return WarehouseError("DATATYPE_MISMATCH", text, "42K09")
    if isinstance(exc, duckdb.ParserException):
        return WarehouseError("PARSE_SYNTAX_ERROR", f"Syntax error: {text}", "42601")
    if isinstance(exc, duckdb.ConversionException):
        return WarehouseError("CAST_INVALID_INPUT", text, "22018")
    if isinstance(exc, duckdb.OutOfRangeException):
        return WarehouseError("ARITHMETIC_OVERFLOW", text, "22003")
    return WarehouseError("INTERNAL_ERROR", text, "XX000")
