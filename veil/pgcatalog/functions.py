"""The PostgreSQL functions the local engine answers, and how each becomes DuckDB SQL.

A :class:`FunctionSpec` names a function, its accepted argument counts, its result type (for
RowDescription), the declared argument types (used to type ``$n`` parameters and to coerce
untyped literals, as PostgreSQL does) and a builder that returns the DuckDB expression.
Anything not registered here, not a standard SQL function sqlglot knows, and not in
:data:`PASSTHROUGH` is refused: unknown is denied, never passed to DuckDB.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlglot import exp

from veil.pgcatalog.context import CompileEnv
from veil.pgtypes import BY_NAME, BY_OID, ColumnType

Builder = Callable[["Call"], exp.Expr]
ResultRule = Callable[[Sequence[ColumnType | None]], ColumnType | None]


@dataclass
class Call:
    """One call site, with its arguments already rewritten for DuckDB."""

    name: str
    args: list[exp.Expr]
    types: list[ColumnType | None]
    env: CompileEnv
    in_from: bool = False


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    arities: tuple[int, ...]
    returns: str | ResultRule
    build: Builder
    params: tuple[str, ...] = ()
    set_returning: bool = False

    def result_type(self, arg_types: Sequence[ColumnType | None]) -> ColumnType | None:
        if callable(self.returns):
            return self.returns(arg_types)
        return ColumnType(BY_NAME[self.returns])

    def param_type(self, index: int) -> str | None:
        """Declared type of argument ``index`` (optional arguments are trailing ones)."""
        return self.params[index] if index < len(self.params) else None


@dataclass
class Registry:
    functions: dict[str, FunctionSpec] = field(default_factory=dict)

    def add(
        self,
        name: str,
        arities: int | tuple[int, ...],
        returns: str | ResultRule,
        params: tuple[str, ...] = (),
        set_returning: bool = False,
    ) -> Callable[[Builder], Builder]:
        counts = (arities,) if isinstance(arities, int) else arities

        def register(build: Builder) -> Builder:
            self.functions[name] = FunctionSpec(name, counts, returns, build, params, set_returning)
            return build

        return register

    def get(self, name: str) -> FunctionSpec | None:
        return self.functions.get(name)


REGISTRY = Registry()

# Functions returning rows of several columns: name → ((column, PostgreSQL type), ...).
TABLE_FUNCTIONS: dict[str, tuple[tuple[str, str], ...]] = {}

# DuckDB built-ins whose PostgreSQL namesakes behave the same for catalog work.
PASSTHROUGH: dict[str, str] = {
    "to_json": "json",
    "decode": "bytea",  # bytea conversions, spelled for DuckDB by pgtemporal.duckdb_calls
    "encode": "text",
    "octet_length": "int4",
    "bit_length": "int4",
    "concat_ws": "text",
    "trunc": "numeric",
    "ln": "float8",
    "log": "float8",
    "exp": "float8",
    "pi": "float8",
    "div": "numeric",
    "gcd": "int8",
    "lcm": "int8",
    "date_part": "float8",
    "to_timestamp": "timestamptz",
    "make_date": "date",
    "array_cat": "anyarray",
    "array_append": "anyarray",
    "array_prepend": "anyarray",
    "array_remove": "anyarray",
    "isfinite": "bool",
    "age": "interval",
}

# Functions that read files, the environment, other databases or the server's state, or that
# change it: refused with 42501 whatever their arguments.
DENIED = frozenset(
    """
    pg_read_file pg_read_binary_file pg_ls_dir pg_stat_file pg_ls_logdir pg_ls_waldir
    pg_ls_tmpdir pg_ls_archive_statusdir pg_file_write pg_file_rename pg_file_unlink lo_import
    lo_export lo_open lo_create lo_unlink lo_get lo_put pg_reload_conf pg_rotate_logfile
    pg_terminate_backend pg_cancel_backend pg_promote pg_switch_wal pg_create_restore_point
    pg_start_backup pg_stop_backup pg_backup_start pg_backup_stop dblink dblink_exec
    dblink_connect pg_logical_emit_message nextval setval currval pg_sleep pg_sleep_for
    pg_sleep_until read_csv read_csv_auto read_parquet parquet_scan read_json read_json_auto
    read_json_objects read_ndjson read_ndjson_auto read_ndjson_objects read_text read_blob glob
    getenv sniff_csv parquet_metadata parquet_schema parquet_file_metadata parquet_kv_metadata
    query query_table iceberg_scan delta_scan postgres_scan postgres_query sqlite_scan
    mysql_scan read_xlsx install load attach detach copy export import duckdb_settings
    duckdb_extensions duckdb_secrets which_secret current_setting_duckdb checkpoint
    force_checkpoint pragma_version pragma_database_list pragma_table_info pragma_storage_info
    pragma_show pg_stat_reset pg_stat_reset_shared pg_stat_reset_single_table_counters
    txid_status set_config_duckdb lo_from_bytea lo_truncate lo_close pg_create_logical_replication_slot
    pg_drop_replication_slot pg_import_system_collations
    """.split()
)


def denied(name: str) -> bool:
    lowered = name.lower()
    return lowered in DENIED or lowered.startswith(("duckdb_", "pragma_", "read_", "pg_ls_"))


def array_of(element: ColumnType | None) -> ColumnType | None:
    if element is None or element.type.is_array or not element.type.array_oid:
        return element
    return ColumnType(BY_OID[element.type.array_oid], element.typmod)


def element_of(array: ColumnType | None) -> ColumnType | None:
    if array is None:
        return None
    if array.type.is_array:
        return ColumnType(BY_OID[array.type.element_oid])
    if array.type.name == "int2vector":
        return ColumnType(BY_NAME["int2"])
    if array.type.name == "oidvector":
        return ColumnType(BY_NAME["oid"])
    return None


def same_as(index: int) -> ResultRule:
    def rule(types: Sequence[ColumnType | None]) -> ColumnType | None:
        return types[index] if index < len(types) else None

    return rule


def element_rule(index: int) -> ResultRule:
    def rule(types: Sequence[ColumnType | None]) -> ColumnType | None:
        return element_of(types[index]) if index < len(types) else None

    return rule
