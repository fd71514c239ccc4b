"""What clients read from the catalog, with the exact SQL they send (from the captures)."""

from __future__ import annotations

import re

import pytest

from tests.pgcatalog.clientlog import Captured, all_captured
from tests.pgcatalog.pgcat_support import ORDERS, Runner, pg_types

CAPTURED = all_captured()


def captured(fragment: str, source: str | None = None) -> Captured:
    for entry in CAPTURED:
        if fragment in entry.sql and (source is None or entry.source == source):
            return entry
    raise AssertionError(f"no captured statement contains {fragment!r}")


def psql(fragment: str) -> str:
    """A psql -E query, aimed at sales.orders (the capture used the OID 16386)."""
    return captured(fragment, "psql_E.txt").sql.replace("'16386'", f"'{ORDERS.oid}'")


# --- psql ---------------------------------------------------------------------------------------


def test_psql_dt_lists_exactly_the_visible_tables(run: Runner, ctx) -> None:
    sql = captured("WHEN 'p' THEN 'partitioned table'", "psql_E.txt").sql
    on_path = type(ctx)(**{**ctx.__dict__, "search_path": ("sales", "public")})
    schema, rows = run(sql, ctx=on_path)
    assert [name for name, _ in pg_types(schema)] == ["Schema", "Name", "Type", "Owner"]
    assert rows == [("sales", "customers", "table", "veil"), ("sales", "orders", "table", "veil")]


def test_psql_dt_hides_tables_outside_the_search_path(run: Runner) -> None:
    sql = captured("WHEN 'p' THEN 'partitioned table'", "psql_E.txt").sql
    assert run.rows(sql) == []


def test_psql_describe_finds_the_table(run: Runner) -> None:
    rows = run.rows(psql("OPERATOR(pg_catalog.~) '^(orders)$'"))
    assert rows == [(ORDERS.oid, "sales", "orders")]


def test_psql_describe_columns(run: Runner) -> None:
    schema, rows = run(psql("a.attgenerated\nFROM pg_catalog.pg_attribute a"))
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("id", "bigint", True),
        ("customer", "text", False),
        ("amount", "numeric(12,2)", False),
        ("created", "timestamp without time zone", False),
        ("tags", "text[]", False),
    ]
    assert pg_types(schema)[:2] == [("attname", 19), ("format_type", 25)]


def test_psql_describe_table_details(run: Runner) -> None:
    rows = run.rows(psql("false AS relhasoids, c.relispartition, '', c.reltablespace"))
    relchecks, relkind, *_ = rows[0]
    assert (relchecks, relkind) == (0, "r")
    assert rows[0][-1] == "heap"


@pytest.mark.parametrize(
    "fragment",
    ["pg_catalog.pg_get_indexdef(i.indexrelid, 0, true)", "FROM pg_catalog.pg_policy pol",
     "FROM pg_catalog.pg_statistic_ext", "FROM pg_catalog.pg_publication p",
     "WHERE c.oid = i.inhparent", "inhdetachpending"],
)
def test_psql_describe_sections_are_empty(run: Runner, fragment: str) -> None:
    assert run.rows(psql(fragment)) == []


def test_psql_list_databases(run: Runner) -> None:
    rows = run.rows(captured("pg_catalog.pg_database d", "psql_E.txt").sql)
    assert rows == [("veil", "veil", "UTF8", "C.UTF-8", "C.UTF-8", None, "libc", None)]


def test_psql_list_schemas(run: Runner) -> None:
    rows = run.rows(captured("FROM pg_catalog.pg_namespace n\nWHERE", "psql_E.txt").sql)
    assert rows == [("public", "pg_database_owner"), ("sales", "veil")]  # public: as PostgreSQL 15 has it


def test_psql_list_roles(run: Runner) -> None:
    rows = run.rows(captured("r.rolcreaterole", "psql_E.txt").sql)
    assert [r[0] for r in rows] == ["alice", "bob", "postgres", "veil"]
    assert all(r[-3] == [] for r in rows)  # memberof


# --- pgJDBC -------------------------------------------------------------------------------------


def test_jdbc_get_schemas(run: Runner) -> None:
    rows = run.rows(captured("AS TABLE_SCHEM, NULL AS TABLE_CATALOG").sql)
    assert rows == [(s, None) for s in ("information_schema", "pg_catalog", "public", "sales")]


def test_jdbc_get_tables(run: Runner) -> None:
    schema, rows = run(captured("AS TABLE_TYPE, d.description AS REMARKS").sql)
    assert [n for n, _ in pg_types(schema)][:5] == [
        "table_cat", "table_schem", "table_name", "table_type", "remarks"
    ]
    assert [r[:5] for r in rows] == [
        (None, "sales", "customers", "TABLE", None),
        (None, "sales", "orders", "TABLE", "All orders"),
    ]


def test_jdbc_get_columns(run: Runner) -> None:
    rows = run.rows(captured("row_number() OVER (PARTITION BY a.attrelid").sql)
    assert [(r[2], r[3], r[4], r[5], r[8]) for r in rows] == [
        ("id", 20, True, -1, 1),
        ("customer", 25, False, -1, 2),
        ("amount", 1700, False, 786438, 3),
        ("created", 1114, False, -1, 4),
        ("tags", 1009, False, -1, 5),
    ]


def test_jdbc_primary_and_foreign_keys_and_indexes_are_empty(run: Runner) -> None:
    assert run.rows(captured("information_schema._pg_expandarray(i.indkey) AS KEYS").sql) == []
    assert run.rows(captured("AS PKTABLE_CAT").sql) == []
    assert run.rows(captured("tmp.I_INDOPTION").sql) == []


def test_jdbc_max_index_keys(run: Runner) -> None:
    assert run.value(captured("name='max_index_keys'").sql) == "32"


def test_jdbc_type_info_cache(run: Runner) -> None:
    rows = run.rows(captured("typinput='pg_catalog.array_in'::regproc").sql)
    by_oid = {r[3]: r for r in rows}
    assert by_oid[1007][:3] == (True, "b", "_int4")
    assert by_oid[23][:3] == (False, "b", "int4")
    assert by_oid[ORDERS.row_type_oid][:3] == (False, "c", "orders")


def test_jdbc_result_set_metadata(run: Runner) -> None:
    sql = captured("JOIN (SELECT 16386 AS oid , 1 AS attnum").sql.replace("16386", str(ORDERS.oid))
    rows = run.rows(sql)
    # auto-increment is ``'' != '' OR NULL LIKE ...``: NULL, as in PostgreSQL
    assert sorted((r[1], r[2], r[5], r[6]) for r in rows) == [
        (1, "id", True, None), (2, "customer", False, None), (3, "amount", False, None),
        (4, "created", False, None), (5, "tags", False, None),
    ]


def test_jdbc_generate_series(run: Runner) -> None:
    schema, rows = run("select * from generate_series(1,5)")
    assert pg_types(schema) == [("generate_series", 23)]
    assert rows == [(i,) for i in range(1, 6)]


# --- SQLAlchemy ---------------------------------------------------------------------------------


def test_sqlalchemy_server_version_matches_its_regex(run: Runner) -> None:
    version = run.value("select pg_catalog.version()")
    assert re.match(r".*PostgreSQL (\d+)\.?(\d+)?", version).groups() == ("15", "20")
    assert "Veil" in version


def test_sqlalchemy_current_schema(run: Runner) -> None:
    assert run.value("select current_schema()") == "public"


def test_sqlalchemy_schemas(run: Runner) -> None:
    entry = captured("NOT LIKE $1::VARCHAR || '%' ESCAPE '/'")
    assert run.rows(entry.sql, entry.params) == [("information_schema",), ("public",), ("sales",)]


def test_sqlalchemy_table_names_and_has_table(run: Runner) -> None:
    tables = captured("ARRAY[$1::VARCHAR, $2::VARCHAR]) AND pg_catalog.pg_class.relpersistence")
    assert sorted(run.rows(tables.sql, tables.params)) == [("customers",), ("orders",)]
    has_table = captured("pg_catalog.pg_class.relname IN ($1::VARCHAR) AND")
    assert run.rows(has_table.sql, has_table.params) == [("orders",)]
    assert run.rows(has_table.sql, ["secrets", *has_table.params[1:]]) == []


def test_sqlalchemy_get_columns(run: Runner) -> None:
    entry = captured("AS identity_options")
    rows = run.rows(entry.sql, entry.params)
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        ("id", "bigint", True, "orders"),
        ("customer", "text", False, "orders"),
        ("amount", "numeric(12,2)", False, "orders"),
        ("created", "timestamp without time zone", False, "orders"),
        ("tags", "text[]", False, "orders"),
    ]


def test_sqlalchemy_table_comment(run: Runner) -> None:
    entry = captured("pg_catalog.pg_description.objsubid = $1::INTEGER")
    assert run.rows(entry.sql, entry.params) == [("orders", "All orders")]


def test_sqlalchemy_hstore_probe(run: Runner) -> None:
    entry = captured("WHERE t.oid = to_regtype($1)")
    assert run.rows(entry.sql, entry.params) == []
    assert run.rows(entry.sql, ["int4"]) == [("int4", 23, 1007, "integer", ",")]


# --- asyncpg ------------------------------------------------------------------------------------


def test_asyncpg_introspection_of_int4_array(run: Runner) -> None:
    entry = captured("WITH RECURSIVE typeinfo_tree")
    schema, rows = run(entry.sql, ["{1007}"])
    names = [n for n, _ in pg_types(schema)]
    table = [dict(zip(names, row, strict=True)) for row in rows]
    assert [(r["oid"], r["name"], r["kind"], r["elemtype"], r["elemtype_name"]) for r in table] == [
        (23, "int4", "b", 0, "-"),
        (1007, "_int4", "b", 23, "integer"),
    ]
    assert table[1]["elemdelim"] == ","
    assert run(entry.sql, [[1007]])[1] == rows  # asyncpg itself binds a list


def test_asyncpg_jit_toggle(run: Runner) -> None:
    entry = captured("current_setting('jit') AS cur")
    assert run.rows(entry.sql) == [("on", "off")]
    assert run.value(captured("set_config('jit', $1, false)").sql, ["on"]) == "on"


def test_asyncpg_literals(run: Runner) -> None:
    schema, rows = run("select 1::int4 as a, '{1,2}'::int4[] as b, 'x'::name, '1 day'::interval")
    assert pg_types(schema) == [("a", 23), ("b", 1007), ("name", 19), ("interval", 1186)]
    assert rows[0][:3] == (1, [1, 2], "x")


def test_psycopg_table_less_select(run: Runner) -> None:
    schema, rows = run("select 1::int4, 'x'::text, now()")
    assert pg_types(schema) == [("int4", 23), ("text", 25), ("now", 1184)]
    assert rows[0][:2] == (1, "x")
