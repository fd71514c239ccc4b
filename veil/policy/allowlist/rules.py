"""First-pass verdicts for functions the generator finds that no list has reviewed yet.

These rules only *propose*: the generator writes a new name with status ``new``, and the checker
refuses every entry that is not ``reviewed`` whatever its proposed verdict. A reviewer reads the
proposal, fixes it if needed and sets the status to ``reviewed``. Refusal categories:

* ``runs_sql``: executes SQL text or a serialized plan (json_execute_serialized_sql, query_to_xml)
* ``reads_relation``: reads a table, view, sequence or catalog entry named by its argument
* ``reads_file``: reads or lists files, URLs, stages, external systems
* ``session_state``: reads or changes the session (settings, variables, sequences, seeds)
* ``server_state``: changes or inspects the server (backends, WAL, logs, checkpoints, replication)
* ``reveals_env``: reveals the statement, user, database, version, network or configuration
* ``resource``: sleeps, locks, or holds transaction/lock state (advisory locks, txid)
* ``internal``: engine internals not meant to be called by name (type I/O, support functions)
* ``unknown``: not reviewed and not obviously pure
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Proposal:
    verdict: str  # "allow" | "refuse"
    category: str  # "pure" when allowed


ALLOW = Proposal("allow", "pure")


def refuse(category: str) -> Proposal:
    return Proposal("refuse", category)


# -- DuckDB --------------------------------------------------------------------------------
_DUCKDB_EXACT: dict[str, str] = {
    **dict.fromkeys(
        "query query_table json_execute_serialized_sql json_serialize_plan python_map_function "
        "pandas_scan arrow_scan arrow_scan_dumb python_arrow_scan".split(), "runs_sql"),
    **dict.fromkeys(
        "glob sniff_csv parquet_scan iceberg_scan delta_scan postgres_scan postgres_query "
        "sqlite_scan mysql_query which_secret add_parquet_key".split(), "reads_file"),
    **dict.fromkeys(
        "seq_scan summary stats currval nextval setval col_description obj_description "
        "shobj_description pg_get_constraintdef pg_get_expr pg_get_viewdef pg_has_role "
        "in_search_path index_key histogram histogram_values".split(), "reads_relation"),
    **dict.fromkeys(
        "getvariable current_setting setseed set_config".split(), "session_state"),
    **dict.fromkeys(
        "checkpoint force_checkpoint write_log truncate_duckdb_logs enable_logging disable_logging "
        "enable_profiling disable_profiling add_grammar_extension remove_grammar_extension "
        "create_external_resource deregister_external_resource destroy_external_resource "
        "register_external_resource register_external_resource_type copy_database import_database "
        "test_all_types test_vector_types".split(), "server_state"),
    **dict.fromkeys(
        "current_query current_query_id current_connection_id current_database current_catalog "
        "current_schema current_schemas current_user current_role session_user user version "
        "get_block_size inet_client_addr inet_client_port inet_server_addr inet_server_port "
        "pg_conf_load_time pg_postmaster_start_time pg_my_temp_schema pg_is_other_temp_schema "
        "platform user_agent extension_versions database_size database_list alias".split(), "reveals_env"),
    **dict.fromkeys("sleep_ms pg_sleep txid_current current_transaction_id".split(), "resource"),
}
_DUCKDB_SAFE_TABLES = frozenset(
    "generate_series range unnest repeat json_each json_tree pg_timezone_names icu_calendar_names".split()
)
_DUCKDB_PREFIXES: tuple[tuple[str, str], ...] = (
    ("read_", "reads_file"), ("parquet_", "reads_file"), ("duckdb_", "reveals_env"),
    ("pragma_", "reveals_env"), ("__internal", "internal"), ("has_", "reads_relation"),
    ("pg_", "reads_relation"),
)
_DUCKDB_PURE_PG = frozenset({"pg_typeof", "pg_size_pretty"})


def propose_duckdb(name: str, function_type: str) -> Proposal:
    lowered = name.lower()
    if lowered in _DUCKDB_EXACT:
        return refuse(_DUCKDB_EXACT[lowered])
    if lowered in _DUCKDB_PURE_PG:
        return ALLOW
    for prefix, category in _DUCKDB_PREFIXES:
        if lowered.startswith(prefix):
            return refuse(category)
    if lowered.endswith("_scan") or lowered.endswith("_is_visible"):
        return refuse("reads_relation")
    if function_type == "pragma":
        return refuse("server_state")
    if function_type in ("table", "table_macro") and lowered not in _DUCKDB_SAFE_TABLES:
        return refuse("unknown")
    return ALLOW


# -- PostgreSQL ----------------------------------------------------------------------------
_PG_EXACT: dict[str, str] = {
    **dict.fromkeys(
        "query_to_xml query_to_xmlschema query_to_xml_and_xmlschema cursor_to_xml cursor_to_xmlschema "
        "ts_stat ts_rewrite dblink dblink_exec dblink_open dblink_fetch dblink_send_query".split(),
        "runs_sql"),
    **dict.fromkeys(
        "table_to_xml table_to_xmlschema table_to_xml_and_xmlschema schema_to_xml schema_to_xmlschema "
        "schema_to_xml_and_xmlschema database_to_xml database_to_xmlschema database_to_xml_and_xmlschema "
        "nextval currval setval lastval col_description obj_description shobj_description "
        "row_security_active makeaclitem acldefault aclexplode aclcontains aclitemeq "
        "satisfies_hash_partition ts_debug ts_parse ts_token_type get_current_ts_config "
        "brin_summarize_new_values brin_summarize_range brin_desummarize_range gin_clean_pending_list "
        "amvalidate btequalimage aclinsert aclremove currtid2 regclass oidvectortypes".split(), "reads_relation"),
    **dict.fromkeys(
        "lo_import lo_export lo_get lo_put lo_open lo_close lo_create lo_creat lo_unlink loread "
        "lowrite lo_lseek lo_lseek64 lo_tell lo_tell64 lo_truncate lo_truncate64 lo_from_bytea "
        "dblink_connect dblink_connect_u".split(), "reads_file"),
    **dict.fromkeys("current_setting set_config setseed".split(), "session_state"),
    **dict.fromkeys(
        "current_query current_user current_role session_user user current_database current_catalog "
        "current_schema current_schemas version inet_client_addr inet_client_port inet_server_addr "
        "inet_server_port system_user getpgusername getdatabaseencoding".split(), "reveals_env"),
}
_PG_PREFIXES: tuple[tuple[str, str], ...] = (
    ("pg_read_", "reads_file"), ("pg_ls_", "reads_file"), ("pg_stat_file", "reads_file"),
    ("pg_file_", "reads_file"), ("lo_", "reads_file"), ("dblink", "reads_file"),
    ("pg_advisory", "resource"), ("pg_try_advisory", "resource"), ("pg_sleep", "resource"),
    ("txid_", "resource"), ("pg_current_xact", "resource"), ("pg_xact", "resource"),
    ("pg_snapshot", "resource"), ("pg_visible_in_snapshot", "resource"), ("mxid_", "resource"),
    ("has_", "reads_relation"), ("to_reg", "reads_relation"), ("pg_get_", "reads_relation"),
    ("pg_stat", "server_state"), ("pg_", "server_state"), ("binary_upgrade_", "server_state"),
    ("_", "internal"),
)
_PG_PURE_PG = frozenset(
    "pg_typeof pg_size_pretty pg_size_bytes pg_column_size pg_input_is_valid pg_input_error_info "
    "pg_collation_for pg_encoding_to_char pg_char_to_encoding pg_encoding_max_length".split()
)
_PG_INTERNAL_TYPES = frozenset(
    "internal trigger event_trigger fdw_handler index_am_handler table_am_handler language_handler "
    "tsm_handler cstring".split()
)


def propose_postgres(name: str, types: frozenset[str], public_execute: bool, type_io: bool) -> Proposal:
    """``types``: every argument and result type of the name's overloads; ``public_execute``:
    whether PUBLIC may execute every overload; ``type_io``: whether any overload is a type's
    input/output/send/receive/typmod function."""
    lowered = name.lower()
    if lowered in _PG_EXACT:
        return refuse(_PG_EXACT[lowered])
    if lowered in _PG_PURE_PG:
        return ALLOW
    if not public_execute:
        return refuse("server_state")
    for prefix, category in _PG_PREFIXES:
        if lowered.startswith(prefix):
            return refuse(category)
    if type_io or types & _PG_INTERNAL_TYPES or lowered.endswith("_validator"):
        return refuse("internal")
    if re.search(r"_(is_visible|privilege)$", lowered):
        return refuse("reads_relation")
    return ALLOW
