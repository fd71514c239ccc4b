"""Parameter typing for source queries (pure functions): inference from context, explicit casts
on array parameters, and the literals DuckDB must be given in its own form."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from veil import pgtypes
from veil.errors import VeilError
from veil.pgtypes import ColumnType
from veil.sql.colnames import postgres_names
from veil.sql.params import cast_array_parameters, cast_declared_parameters, duckdb_literals, infer_param_oids

COLUMNS = {"id": pgtypes.INT4, "name": pgtypes.TEXT, "born": pgtypes.DATE}


def resolve(column: exp.Column) -> ColumnType | None:
    found = COLUMNS.get(column.name)
    return ColumnType(found) if found else None


def parse(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="postgres")


@pytest.mark.parametrize(
    ("sql", "declared", "expected"),
    [
        ("SELECT * FROM t WHERE id = ANY($1)", [], ["_int4"]),
        ("SELECT * FROM t WHERE name <> ALL(($1))", [], ["_text"]),
        ("SELECT * FROM t WHERE unknown_col = ANY($1)", [], ["_text"]),
        ("SELECT * FROM t WHERE id IN ($1, $2) AND born BETWEEN $3 AND $4", [], ["int4", "int4", "date", "date"]),
        ("SELECT * FROM t LIMIT $1 OFFSET $2", [], ["int8", "int8"]),
        ("SELECT * FROM t WHERE id = $1", [21], ["int2"]),  # declared wins
        ("SELECT $1::int[]", [], ["_int4"]),
        ("SELECT $1", [], ["text"]),
    ],
)
def test_inference_like_postgres(sql: str, declared: list[int], expected: list[str]) -> None:
    oids = infer_param_oids(parse(sql), declared, resolve)
    assert [pgtypes.BY_OID[o].name for o in oids] == expected


def test_array_parameters_get_an_explicit_cast() -> None:
    tree = parse("SELECT * FROM t WHERE id = ANY($1) AND name = $2 AND x = ANY($3::bigint[])")
    cast_array_parameters(tree, [1007, 25, 1016])
    assert tree.sql("postgres") == (
        "SELECT * FROM t WHERE id = ANY(CAST($1 AS INT[])) AND name = $2 AND x = ANY(CAST($3 AS BIGINT[]))"
    )


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        # bpchar keeps the value's length (character would be char(1)); "char" stays "char"
        ("postgres", 'SELECT CAST($1 AS BPCHAR), CAST($2 AS NAME), CAST($3 AS "char"), $4, CAST($5 AS INT)'),
        # DuckDB has no bpchar, name or "char": those parameters stay uncast
        ("duckdb", "SELECT $1, $2, $3, $4, CAST($5 AS INT)"),
    ],
)
def test_declared_parameters_cast_where_the_source_has_the_type(dialect: str, expected: str) -> None:
    tree = parse("SELECT $1, $2, $3, $4, $5")
    names = ("bpchar", "name", "char", "text", "int4")
    cast_declared_parameters(tree, [pgtypes.BY_NAME[n].oid for n in names], dialect)
    assert tree.sql("postgres") == expected


def test_duckdb_literals_read_as_postgres_reads_them() -> None:
    tree = parse("SELECT '3.14'::numeric, '1e5'::numeric, '{a,\"b c\",NULL}'::text[], ('{1}')::int[], 1.5::numeric(4,1)")
    duckdb_literals(tree)
    assert tree.sql("duckdb") == (
        "SELECT CAST('3.14' AS DECIMAL(38, 2)), CAST('1e5' AS DECIMAL(38, 0)), "
        "CAST(['a', 'b c', NULL] AS TEXT[]), CAST(['1'] AS INT[]), CAST(1.5 AS DECIMAL(4, 1))"
    )
    with pytest.raises(VeilError) as info:
        duckdb_literals(parse("SELECT '{1'::int[]"))
    assert info.value.sqlstate == "22P02"


@pytest.mark.parametrize(
    ("sql", "engine_names", "expected"),
    [
        ("SELECT country, country FROM t", ["country", "country_1"], ["country", "country"]),
        ("SELECT a AS x, b AS x, c AS x FROM t", ["x", "x_1", "x_2"], ["x", "x", "x"]),
        ("SELECT count(*), count(*) FROM t", ["count", "count_1"], ["count", "count"]),
        ("SELECT country, country_1 FROM t", ["country", "country_1"], ["country", "country_1"]),
        ("SELECT * FROM t", ["a", "a_1"], ["a", "a_1"]),
    ],
)
def test_duplicate_output_names_are_kept(sql: str, engine_names: list[str], expected: list[str]) -> None:
    assert postgres_names(parse(sql), engine_names) == expected
