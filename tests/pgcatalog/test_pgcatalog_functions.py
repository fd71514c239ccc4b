"""Session, catalog and array functions, and the PostgreSQL syntax catalog queries use."""

from __future__ import annotations

import re

import pytest

from tests.pgcatalog.pgcat_support import ORDERS, Runner, pg_types
from veil.pgcatalog import LocalContext


def test_session_functions(run: Runner) -> None:
    rows = run.rows(
        "select current_user, session_user, user, current_database(), current_catalog, "
        "pg_backend_pid(), current_role"
    )
    assert rows == [("alice", "alice", "alice", "veil", "veil", 4242, "alice")]


def test_version(run: Runner) -> None:
    version = run.value("select version()")
    assert re.match(r"PostgreSQL 15\.\d+ \(Veil \d+\.\d+\.\d+\) on x86_64-pc-linux-gnu", version)


def test_current_schemas(run: Runner, ctx: LocalContext) -> None:
    ctx = LocalContext(**{**ctx.__dict__, "search_path": ("sales", "nope", "public")})
    _, rows = run(
        "select current_schema(), current_schemas(true), current_schemas(false), "
        "(current_schemas(true))[1], (pg_catalog.current_schemas(false))[2]",
        ctx=ctx,
    )
    assert rows == [("sales", ["pg_catalog", "sales", "public"], ["sales", "public"],
                     "pg_catalog", "public")]


def test_current_setting_and_set_config(run: Runner) -> None:
    assert run.rows(
        "select current_setting('application_name'), current_setting('max_index_keys'), "
        "current_setting('nope', true), current_setting('server_version'), "
        "current_setting('timezone')"
    ) == [("pytest", "32", None, "15.20", "UTC")]
    assert run.value("select current_setting($1)", ["standard_conforming_strings"]) == "on"
    assert run.value("select current_setting(name) from pg_settings where name = 'DateStyle'") == (
        "ISO, MDY"
    )
    assert run.value("select set_config('jit', 'off', false)") == "off"


def test_format_type(run: Runner) -> None:
    rows = run.rows(
        "select format_type(23, -1), format_type(1043, 14), format_type(1043, -1), "
        "format_type(1042, -1), format_type(1042, NULL), format_type(1700, 786438), "
        "format_type(1114, 3), format_type(1184, -1), format_type(1009, -1), format_type(18, -1), "
        "format_type(99999, -1), format_type(NULL, -1), format_type(1015, 14), format_type(1083, 2)"
    )
    assert rows == [(
        "integer", "character varying(10)", "character varying", "bpchar", "character",
        "numeric(12,2)", "timestamp(3) without time zone", "timestamp with time zone", "text[]",
        '"char"', "???", None, "character varying(10)[]", "time(2) without time zone",
    )]
    # A type outside the search path is schema-qualified (PostgreSQL: ``sales.orders``), one in it is not.
    assert run.value(f"select format_type({ORDERS.row_type_oid}, -1)") == "sales.orders"
    ctx = LocalContext(**{**run.ctx.__dict__, "search_path": ("sales",)})
    assert run(f"select format_type({ORDERS.row_type_oid}, -1)", ctx=ctx)[1] == [("orders",)]
    assert run.value("select format_type(0, NULL)") == "-"


def test_owner_encoding_and_descriptions(run: Runner) -> None:
    rows = run.rows(
        f"select pg_get_userbyid(10), pg_get_userbyid(1), pg_encoding_to_char(6), "
        f"obj_description({ORDERS.oid}), obj_description({ORDERS.oid}, 'pg_class'), "
        f"col_description({ORDERS.oid}, 1), shobj_description(1, 'pg_database')"
    )
    assert rows == [("postgres", "unknown (OID=1)", "UTF8", "All orders", "All orders", None, None)]
    assert run.value(
        "select col_description('sales.customers'::regclass, 2)"
    ) == "Full name"


def test_privileges_are_read_only(run: Runner) -> None:
    rows = run.rows(
        "select has_table_privilege('sales.orders', 'SELECT'), "
        "has_table_privilege(current_user, 'sales.orders', 'select'), "
        "has_table_privilege('sales.orders', 'INSERT'), "
        "has_schema_privilege('sales', 'USAGE'), has_database_privilege('veil', 'CONNECT'), "
        "has_column_privilege('sales.orders', 'id', 'SELECT'), "
        "has_any_column_privilege('sales.orders', 'UPDATE'), has_table_privilege(NULL::oid, 'SELECT')"
    )
    assert rows == [(True, True, False, True, True, True, False, None)]


def test_visibility(run: Runner, ctx: LocalContext) -> None:
    sql = f"select pg_table_is_visible({ORDERS.oid}), pg_type_is_visible(23), pg_table_is_visible(1259)"
    assert run.rows(sql) == [(False, True, True)]
    on_path = LocalContext(**{**ctx.__dict__, "search_path": ("sales",)})
    assert run(sql, ctx=on_path)[1] == [(True, True, True)]


def test_reg_casts_both_ways(run: Runner) -> None:
    schema, rows = run(
        "select 'integer'::regtype, 'pg_class'::regclass, 'array_in'::regproc, "
        "'pg_catalog'::regnamespace, 23::regtype, 1259::regclass, 'int4'::regtype::oid, "
        "'sales.orders'::regclass::oid, 'sales.orders'::regclass::text, 0::regclass::text"
    )
    assert rows == [("integer", "pg_class", "array_in", "pg_catalog", "integer", "pg_class", 23,
                     ORDERS.oid, "sales.orders", "-")]
    assert [oid for _, oid in pg_types(schema)] == [2206, 2205, 24, 4089, 2206, 2205, 26, 26, 25, 25]
    assert run.value(f"select c.oid::regclass::text from pg_class c where c.oid = {ORDERS.oid}") == (
        "sales.orders"
    )
    assert run.value("select reloftype::pg_catalog.regtype::pg_catalog.text from pg_class "
                     "where relname = 'pg_class'") == "-"


def test_to_reg(run: Runner) -> None:
    rows = run.rows(
        "select to_regtype('integer'), to_regtype('pg_catalog.int4'), to_regtype('hstore'), "
        "to_regtype('character varying(10)'), to_regtype('text[]'), to_regclass('pg_class'), "
        "to_regclass('sales.nope'), to_regtype($1), to_regclass($2)",
        ["bigint", "sales.orders"],
    )
    assert rows == [("integer", "integer", None, "character varying", "text[]", "pg_class", None,
                     "bigint", "sales.orders")]


def test_regclass_of_a_parameter(run: Runner) -> None:
    assert run.value("select CAST($1 AS REGCLASS)::oid", ["pg_constraint"]) == 2606
    assert run.value("select $1::regclass::oid", [str(ORDERS.oid)]) == ORDERS.oid


def test_sizes_and_misc_catalog_functions(run: Runner) -> None:
    rows = run.rows(
        "select pg_relation_size('sales.orders'), pg_total_relation_size('sales.orders'), "
        "pg_stat_get_numscans(1), pg_get_serial_sequence('sales.orders', 'id'), "
        "pg_get_partkeydef(1), pg_relation_is_publishable('sales.orders'), "
        "pg_relation_is_publishable('pg_class'), pg_get_statisticsobjdef_columns(1), "
        "pg_tablespace_location(1663), pg_collation_is_visible(100), pg_get_expr(NULL, 1), "
        "pg_get_expr(NULL, 1, true), pg_get_indexdef(1), pg_get_indexdef(1, 0, true), "
        "pg_get_constraintdef(1), pg_get_constraintdef(1, true), pg_size_pretty(123456789::bigint)"
    )
    assert rows == [(0, 0, 0, None, None, True, False, None, "", True, None, None, None, None,
                     None, None, "118 MB")]


def test_identifiers(run: Runner) -> None:
    rows = run.rows(
        "select quote_ident('abc'), quote_ident('Abc'), quote_ident('select'), "
        "quote_ident('a b'), parse_ident('a.B.\"C d\"'), quote_literal('it''s')"
    )
    assert rows == [("abc", '"Abc"', '"select"', '"a b"', ["a", "b", "C d"], "'it''s'")]
    assert run.value("select format('%I.%I = %L', 'sales', 'Orders', 'x')") == 'sales."Orders" = \'x\''


def test_array_functions(run: Runner) -> None:
    rows = run.rows(
        "select array_to_string(array['a', null, 'b'], ','), array_upper(array[1,2,3], 1), "
        "array_lower(array[1,2], 1), array_upper('{}'::int[], 1), array_length(array[1,2], 1), "
        "cardinality(array[1,2,3]), (array[10,20,30])[2], '{1,2}'::int2[], "
        "'d' = any('{a,d}'::text[]), 3 <> all(array[1,2]), 1 = any('{1,2}')"
    )
    assert rows == [("a,b", 3, 1, None, 2, 3, 20, [1, 2], True, True, True)]


def test_zero_based_vectors(run: Runner) -> None:
    rows = run.rows(
        "select proargtypes[0], array_lower(proargtypes, 1), array_upper(proargtypes, 1) "
        "from pg_proc where proname = 'format_type'"
    )
    assert rows == [(26, 0, 1)]


def test_set_returning_functions(run: Runner) -> None:
    assert run.rows("select * from generate_series(1, 10, 4)") == [(1,), (5,), (9,)]
    assert run.rows("select g from generate_series(1, 2) g") == [(1,), (2,)]
    assert run.rows("select generate_series(1, 2) as g") == [(1,), (2,)]
    assert run.rows("select generate_subscripts(array['a','b'], 1)") == [(1,), (2,)]
    assert run.rows("select * from unnest(array['x','y']) with ordinality as t(v, i)") == [
        ("x", 1), ("y", 2)
    ]
    assert run.rows("select x from pg_catalog.unnest(array[3, 4]) x") == [(3,), (4,)]
    assert run.rows("select s from string_to_array('a,b', ',') s") == [(["a", "b"],)]


def test_expandarray(run: Runner) -> None:
    assert run.rows(
        "select (information_schema._pg_expandarray(array[10,20])).x, "
        "(information_schema._pg_expandarray(array[10,20])).n"
    ) == [(10, 1), (20, 2)]
    assert run.rows("select * from information_schema._pg_expandarray(array['a','b'])") == [
        ("a", 1), ("b", 2)
    ]
    assert run.rows(
        "select (r.keys).x, (r.keys).n from "
        "(select information_schema._pg_expandarray(array[7, 8]) as keys) r"
    ) == [(7, 1), (8, 2)]


def test_aggregates_and_json(run: Runner) -> None:
    assert run.value("select string_agg(x, ',' order by x) from (values ('b'), ('a')) v(x)") == "a,b"
    assert run.value("select array_agg(x order by x desc) from (values (1), (3), (2)) v(x)") == [3, 2, 1]
    assert run.value("select json_build_object('a', 1, 'b', 'x')::text") == '{"a":1,"b":"x"}'


def test_misc_system_functions(run: Runner) -> None:
    rows = run.rows(
        "select pg_advisory_unlock_all(), pg_is_in_recovery(), txid_current() > 0, "
        "now() <= current_timestamp, pg_typeof(1), pg_typeof('x'::text)"
    )
    assert rows == [("", False, True, True, "integer", "text")]


def test_keywords(run: Runner) -> None:
    rows = run.rows(
        "select word, catcode, barelabel, catdesc from pg_get_keywords() "
        "where word in ('select', 'abort') order by 1"
    )
    assert rows == [("abort", "U", True, "unreserved"), ("select", "R", True, "reserved")]
    assert run.value("select count(*) > 400 from pg_catalog.pg_get_keywords()")
    assert run.value(
        "SELECT string_agg(word, ',') from pg_catalog.pg_get_keywords() "
        "where word <> ALL ('{a,abort}'::text[]) and word < 'accesz'"
    ) == "absolute,access"


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (("select c.relname from pg_class c where c.relname OPERATOR(pg_catalog.~) '^(pg_am)$' "
          "COLLATE pg_catalog.default"), [("pg_am",)]),
        (("select relname from pg_class where relname ~ '^pg_am$' and relname !~ 'x' "
          "and relname ~* 'PG_AM' and relname !~* 'zz'"), [("pg_am",)]),
        ("select E'a\\nb', E'it''s'", [("a\nb", "it's")]),
        ("select relname from pg_class where oid = '1259'", [("pg_class",)]),
        ("select typname from pg_type where typname like 'int_' escape '\\' order by 1",
         [("int2",), ("int4",), ("int8",)]),
        ("select x from (select 1 as x union all select 2) t where x = any(array[2,3])", [(2,)]),
        (("with recursive r(n) as (select 1 union all select n + 1 from r where n < 4) "
          "select sum(n) from r"), [(10,)]),
        (("select row_number() over (order by oid), typname from pg_type "
          "where oid in (16, 20) order by oid"), [(1, "bool"), (2, "int8")]),
        ("select x.* from (select 1 as a, 'b' as b) x", [(1, "b")]),
        ("select 1/2, -7/2, 7/2.0", [(0, -3, "3.5000000000000000")]),  # numeric text at PostgreSQL's scale
        ("select polname from pg_policy where polroles = '{0}'", []),
        ("select c.oid::pg_catalog.regclass from pg_class c where relname = 'pg_am'", [("pg_am",)]),
        ("select relname from pg_class for update", None),
    ],
)
def test_syntax(run: Runner, sql: str, expected: list[tuple[object, ...]] | None) -> None:
    rows = run.rows(sql)
    if expected is not None:
        assert rows == expected


def test_names_like_postgresql(run: Runner) -> None:
    schema, _ = run(
        "select 1, 'x', 1::int4, 'x'::text, 'int4'::regtype::oid, c.oid::regclass, now(), "
        "count(*), coalesce(null, 1), case when true then c.relname end, "
        "case when true then 1 else c.oid end, (select 1 as inner_name), true, "
        "array[1], exists(select 1), TABLE_SCHEM, \"Quoted\" "
        "from pg_class c, (select 1 as table_schem, 2 as \"Quoted\") q "
        "group by c.oid, c.relname, q.table_schem, q.\"Quoted\""
    )
    assert [n for n, _ in pg_types(schema)] == [
        "?column?", "?column?", "int4", "text", "oid", "oid", "now", "count", "coalesce",
        "case", "oid", "inner_name", "?column?", "array", "exists", "table_schem", "Quoted",
    ]
