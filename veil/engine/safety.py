"""Functions no statement may call: anything that reads files, URLs, the environment or the
engine's own configuration. Checked on every statement before it runs anywhere; the DuckDB
connections additionally run with external access disabled."""

from __future__ import annotations

from sqlglot import exp

from veil.errors import InsufficientPrivilege

DENIED_FUNCTIONS = frozenset(
    {
        "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "parquet_metadata",
        "parquet_schema", "read_json", "read_json_auto", "read_json_objects",
        "read_json_objects_auto", "read_ndjson", "read_ndjson_auto", "read_ndjson_objects",
        "read_text", "read_blob", "read_xlsx", "glob", "getenv", "sniff_csv", "iceberg_scan",
        "delta_scan", "postgres_scan", "postgres_query", "postgres_execute", "sqlite_scan",
        "mysql_query", "mysql_execute", "query", "query_table", "load_extension",
        "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_ls_logdir",
        "pg_ls_waldir", "pg_ls_tmpdir", "lo_import", "lo_export", "lo_get", "dblink",
        "dblink_exec", "dblink_connect", "pg_terminate_backend", "pg_cancel_backend",
        "pg_reload_conf", "pg_rotate_logfile", "current_setting_unsafe", "which_secret",
        "duckdb_secrets", "duckdb_settings", "duckdb_extensions", "duckdb_databases",
        "copy_database", "http_get", "http_post", "read_file", "pg_file_write", "system",
        "checkpoint", "force_checkpoint", "enable_profiling", "set_config_unsafe",
    }
)
DENIED_PREFIXES = ("pragma_", "duckdb_", "read_", "pg_read_", "pg_ls_", "lo_", "dblink")
DENIED_EXPRESSIONS = tuple(
    getattr(exp, name)
    for name in ("ReadCSV", "ReadParquet", "ReadJSON", "Glob", "GetEnv")
    if hasattr(exp, name)
)


def function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return node.sql_name().lower()


def check_functions(statement: exp.Expression) -> None:
    """Raise 42501 if the statement calls a function that could reach outside the engine."""
    for node in statement.find_all(exp.Func):
        name = function_name(node)
        if (
            isinstance(node, DENIED_EXPRESSIONS)
            or name in DENIED_FUNCTIONS
            or name.startswith(DENIED_PREFIXES)
        ):
            raise InsufficientPrivilege(f"function {name} is not allowed in Veil")
