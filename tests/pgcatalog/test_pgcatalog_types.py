"""RowDescription types, Describe without execution, parameter types, and concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pytest

from tests.pgcatalog.pgcat_support import ORDERS, Runner, pg_types
from veil.pgcatalog import LocalContext, LocalEngine, parse_postgres
from veil.pgfields import column_type_for_field
from veil.pgtypes import PG_TYPE_METADATA_KEY, REG_VALUE


def test_catalog_columns_carry_postgresql_types(run: Runner) -> None:
    schema, _ = run(
        "select c.oid, c.relname, c.relkind, c.relnatts, c.reltuples, c.relacl, c.reloptions, "
        "t.typinput, t.typreceive, a.attnum, a.atttypmod, i.indkey, p.proargtypes "
        "from pg_class c, pg_type t, pg_attribute a, pg_index i, pg_proc p where false"
    )
    assert pg_types(schema) == [
        ("oid", 26), ("relname", 19), ("relkind", 18), ("relnatts", 21), ("reltuples", 700),
        ("relacl", 1034), ("reloptions", 1009), ("typinput", 24), ("typreceive", 24),
        ("attnum", 21), ("atttypmod", 23), ("indkey", 22), ("proargtypes", 30),
    ]
    assert schema.field("oid").type == pa.uint32()
    assert schema.field("relnatts").type == pa.int16()
    assert schema.field("typinput").type == REG_VALUE  # regproc: the OID and the name it prints


def test_pinned_types_round_trip_through_the_registry(run: Runner) -> None:
    schema, _ = run("select oid, relname, relkind from pg_class limit 1")
    assert [column_type_for_field(f).oid for f in schema] == [26, 19, 18]
    assert all(PG_TYPE_METADATA_KEY in f.metadata for f in schema)


def test_regproc_columns_print_names(run: Runner) -> None:
    rows = run.rows("select typinput, typoutput, typreceive, typmodin from pg_type where oid = 1015")
    assert rows == [("array_in", "array_out", "array_recv", "varchartypmodin")]


def test_information_schema_uses_base_types_of_domains(run: Runner) -> None:
    schema, rows = run(
        "select table_name, ordinal_position, is_nullable, data_type, numeric_precision, "
        "numeric_scale, datetime_precision, udt_name from information_schema.columns "
        "where table_schema = 'sales' and table_name = 'orders' order by ordinal_position"
    )
    assert pg_types(schema) == [
        ("table_name", 19), ("ordinal_position", 23), ("is_nullable", 1043), ("data_type", 1043),
        ("numeric_precision", 23), ("numeric_scale", 23), ("datetime_precision", 23),
        ("udt_name", 19),
    ]
    assert rows == [
        ("orders", 1, "NO", "bigint", 64, 0, None, "int8"),
        ("orders", 2, "YES", "text", None, None, None, "text"),
        ("orders", 3, "YES", "numeric", 12, 2, None, "numeric"),
        ("orders", 4, "YES", "timestamp without time zone", None, None, 6, "timestamp"),
        ("orders", 5, "YES", "ARRAY", None, None, None, "_text"),
    ]


def test_describe_does_not_execute(engine: LocalEngine, ctx: LocalContext) -> None:
    query = engine.compile(parse_postgres("select count(*) from generate_series(1, 3000000000)")[0], ctx)
    assert [f.name for f in engine.describe(query, 0)] == ["count"]


def test_describe_with_parameters(engine: LocalEngine, ctx: LocalContext) -> None:
    sql = "select c.relname from pg_class c where c.oid = $1 and c.relkind = any($2::\"char\"[])"
    query = engine.compile(parse_postgres(sql)[0], ctx)
    assert query.param_oids == [26, 1002]
    schema = engine.describe(query, 2)
    assert pg_types(schema) == [("relname", 19)]
    table = engine.execute(query, [str(ORDERS.oid), "{r,v}"]).read_all()
    assert table.schema == schema
    assert table.column(0).to_pylist() == ["orders"]


@pytest.mark.parametrize(
    ("sql", "oids"),
    [
        ("select to_regtype($1)", [25]),
        ("select t.oid from pg_type t where t.oid = any($1::oid[])", [1028]),
        ("select c.relname from pg_class c where c.oid = $1", [26]),
        ("select oid from pg_class where relname = $1", [19]),
        ("select CAST($1 AS REGCLASS)", [25]),  # PostgreSQL says regclass; the value is a name
        ("select oid from pg_class limit $1", [20]),
        ("select set_config('jit', $1, false)", [25]),
        ("select $1", [25]),
        ("select pg_get_constraintdef(oid, $1) from pg_constraint", [16]),
        ("select relname from pg_class where relkind = ANY (ARRAY[$1::VARCHAR, $2::VARCHAR])",
         [1043, 1043]),
        ("select attnum from pg_attribute where attnum > $1::SMALLINT", [21]),
        ("select format_type($1, $2)", [26, 23]),
        ("select relname from pg_class where relkind = $1", [18]),
        ("select 1 where $2 = 'x'", [25, 25]),
    ],
)
def test_parameter_types(engine: LocalEngine, ctx: LocalContext, sql: str, oids: list[int]) -> None:
    assert engine.infer_param_types(parse_postgres(sql)[0], ctx) == oids


def test_declared_parameter_types_win(engine: LocalEngine, ctx: LocalContext) -> None:
    statement = parse_postgres("select c.relname from pg_class c where c.oid = $1")[0]
    assert engine.compile(statement, ctx, [20]).param_oids == [20]
    assert engine.compile(statement, ctx, [0]).param_oids == [26]


def test_parameter_values_are_coerced(run: Runner) -> None:
    assert run.value("select relname from pg_class where oid = $1", ["1259"]) == "pg_class"
    assert run.value("select relname from pg_class where oid = $1", [1259]) == "pg_class"
    assert run.value("select $1::bool", ["t"]) is True
    assert run.value("select count(*) from pg_type where oid = any($1::oid[])", [[23, 25]]) == 2
    assert run.value("select count(*) from pg_type where oid = any($1::oid[])", ["{23,25,26}"]) == 3


def test_parameter_count_is_checked(engine: LocalEngine, ctx: LocalContext) -> None:
    query = engine.compile(parse_postgres("select $1::int4")[0], ctx)
    with pytest.raises(Exception) as error:
        engine.execute(query, [])
    assert getattr(error.value, "sqlstate", None) == "08P01"


def test_concurrent_executions(engine: LocalEngine, ctx: LocalContext) -> None:
    statement = parse_postgres(
        "select count(*) from pg_attribute a join pg_class c on c.oid = a.attrelid "
        "where c.relname = $1"
    )[0]
    query = engine.compile(statement, ctx)

    def count(name: str) -> int:
        return engine.execute(query, [name]).read_all().column(0)[0].as_py()

    names = ["orders", "customers", "pg_class"] * 20
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(count, names))
    assert results[:3] == [11, 8, 33]
    assert results == results[:3] * 20


def test_results_stream_in_batches(engine: LocalEngine, ctx: LocalContext) -> None:
    query = engine.compile(parse_postgres("select * from generate_series(1, 100000)")[0], ctx)
    reader = engine.execute(query, [])
    batches = list(reader)
    assert len(batches) > 1
    assert sum(b.num_rows for b in batches) == 100000
    assert all(b.schema.field(0).type == pa.int32() for b in batches)


@pytest.mark.parametrize(
    ("sql", "sqlstate"),
    [
        ("select '+'::regoper", "42725"),  # ambiguous: PostgreSQL has many + operators
        ("select '+(text,text)'::regoperator", "42883"),
        ("select 'nope'::regconfig", "42704"),
        ("select 'nope'::regdictionary", "42704"),
        ("select 'nope'::regcollation", "42704"),
        ("select 'no_such_type'::regtype", "42704"),
    ],
)
def test_unknown_reg_names_fail_like_postgresql(run: Runner, sql: str, sqlstate: str) -> None:
    with pytest.raises(Exception) as error:
        run(sql)
    assert getattr(error.value, "sqlstate", None) == sqlstate


def test_reg_casts_of_non_constant_names(run: Runner) -> None:
    """Names from a column go through the DuckDB macros, not the compile-time lookup."""
    rows = run.rows(
        "select n::regconfig::text, (o || '(integer,integer)')::regoperator::text "
        "from (values ('english', '+'), ('simple', '-')) v(n, o) order by 1"
    )
    assert rows == [("english", "+(integer,integer)"), ("simple", "-(integer,integer)")]
