"""Arrays (Arrow lists) against PostgreSQL's array_out / array_send."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import duckdb
import pyarrow as pa

from tests.proxy.codec.conftest import Check
from tests.proxy.codec.oracle import encode_cells
from veil.pgfields import pinned_field
from veil.pgtypes import BY_OID


def test_int_arrays(check: Check) -> None:
    literals = ["'{1,2,NULL}'", "'{}'", None, "'{-2147483648,2147483647}'", "'{NULL}'", "'{7}'"]
    values = [[1, 2, None], [], None, [-2147483648, 2147483647], [None], [7]]
    check("int4[]", literals, pa.array(values, pa.list_(pa.int32())))
    check("int4[]", literals, pa.array(values, pa.large_list(pa.int32())))
    check("int8[]", literals, pa.array(values, pa.list_(pa.int64())))
    check("int2[]", ["'{1,-1}'"], pa.array([[1, -1]], pa.list_(pa.int16())))


def test_vectors_are_array_send_from_zero(check: Check) -> None:
    """int2vector/oidvector (pg_index.indkey, pg_proc.proargtypes): text ``1 2``, binary array_send
    of int2/oid subscripted from 0 (asyncpg failed on the text bytes sent as binary)."""
    literals = ["'1 2 3'", "''", None, "'20'", "'4294967295 0'"]
    values = [[1, 2, 3], [], None, [20], [4294967295, 0]]
    for arrow_type in (pa.list_(pa.uint32()), pa.list_(pa.int64())):
        field = pinned_field("v", arrow_type, BY_OID[30])
        check("oidvector", literals, pa.array(values, arrow_type), field=field)
    int2 = pa.list_(pa.int16())
    check("int2vector", ["'1 -2'", "''", "'3'"], pa.array([[1, -2], [], [3]], int2),
          field=pinned_field("v", int2, BY_OID[22]))


def test_text_array_quoting(check: Check) -> None:
    elements = [
        "a b",
        "",
        "NULL",
        "null",
        'x"y',
        "back\\slash",
        "{}",
        "é",
        None,
        "a,b",
        "tab\tx",
        "plain",
        "Nullable",
        " lead",
        "trail ",
        "new\nline",
    ]
    literal = (
        "ARRAY["
        + ",".join("NULL" if e is None else "'" + e.replace("'", "''") + "'" for e in elements)
        + "]::text"
    )
    check("text[]", [literal, "'{}'", None], pa.array([elements, [], None], pa.list_(pa.string())))


def test_float_and_numeric_arrays(check: Check) -> None:
    check(
        "float8[]",
        ["'{1.5,NULL,NaN,Infinity,-Infinity,1e+20,-0}'"],
        pa.array([[1.5, None, float("nan"), float("inf"), float("-inf"), 1e20, -0.0]]),
    )
    check(
        "float4[]",
        ["'{0.1,3.4028235e+38}'"],
        pa.array([[0.1, 3.4028235e38]], pa.list_(pa.float32())),
    )
    values = [[Decimal("12.50"), Decimal("-0.05"), None, Decimal("0.00")]]
    check(
        "numeric[]", ["'{12.50,-0.05,NULL,0.00}'"], pa.array(values, pa.list_(pa.decimal128(10, 2)))
    )


def test_bool_uuid_bytea_arrays(check: Check) -> None:
    check("bool[]", ["'{t,f,NULL}'"], pa.array([[True, False, None]]))
    u = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    check("uuid[]", [f"'{{{u},NULL}}'"], pa.array([[u.bytes, None]], pa.list_(pa.binary(16))))
    check(
        "bytea[]",
        ["ARRAY['\\x01ff'::bytea, ''::bytea, NULL]"],
        pa.array([[b"\x01\xff", b"", None]], pa.list_(pa.binary())),
    )


def test_temporal_arrays(check: Check) -> None:
    check(
        "date[]",
        ["'{2020-01-01,\"0044-03-15 BC\",NULL}'"],
        pa.array([[18262, -735160, None]], pa.list_(pa.date32())),
    )
    stamp = dt.datetime(2020, 1, 2, 3, 4, 5, 600000)
    check(
        "timestamp[]",
        ["ARRAY['2020-01-02 03:04:05.6'::timestamp, NULL]"],
        pa.array([[stamp, None]], pa.list_(pa.timestamp("us"))),
    )
    check(
        "timestamptz[]",
        ["ARRAY['2020-01-02 03:04:05.6+00'::timestamptz]"],
        pa.array([[stamp]], pa.list_(pa.timestamp("us", tz="UTC"))),
    )
    check(
        "interval[]",
        ["ARRAY['24:00:00'::interval, '-00:00:01', NULL]"],
        pa.array([[86400 * 10**6, -(10**6), None]], pa.list_(pa.duration("us"))),
    )
    days = pa.array([pa.MonthDayNano([0, 1, 0]), pa.MonthDayNano([14, -2, 5000])])
    check(
        "interval[]",
        ["ARRAY['1 day'::interval, '1 year 2 mons -2 days 00:00:00.000005']"],
        pa.ListArray.from_arrays(pa.array([0, 2], pa.int32()), days),
    )
    check(
        "time[]",
        ["'{12:00:00,00:00:00.5}'"],
        pa.array([[43200 * 10**6, 500000]], pa.list_(pa.time64("us"))),
    )


def test_json_array(check: Check) -> None:
    items = pa.ExtensionArray.from_storage(pa.json_(pa.string()), pa.array(['{"a":1}', None]))
    column = pa.ListArray.from_arrays(pa.array([0, 2], pa.int32()), items)
    check("json[]", ["ARRAY['{\"a\":1}'::json, NULL]"], column)


def test_sliced_and_fixed_size_lists(check: Check) -> None:
    base = pa.array([[9], [1, 2], None, [3]], pa.list_(pa.int64()))
    check("int8[]", ["'{1,2}'", None, "'{3}'"], base.slice(1))
    fixed = pa.array([[1, 2], [3, None]], pa.list_(pa.int32(), 2))
    check("int4[]", ["'{1,2}'", "'{3,NULL}'"], fixed)


def test_duckdb_lists(check: Check) -> None:
    table = duckdb.sql(
        "SELECT [1, 2, NULL]::INTEGER[] AS v UNION ALL SELECT []::INTEGER[] UNION ALL SELECT NULL"
    ).to_arrow_table()
    check("int4[]", ["'{1,2,NULL}'", "'{}'", None], table.column(0))
    strings = duckdb.sql("SELECT ['a,b', 'quote\"d', 'x'] AS v").to_arrow_table()
    check("text[]", ["ARRAY['a,b', 'quote\"d', 'x']"], strings.column(0))


def test_nested_lists_are_text() -> None:
    column = pa.array([[[1, 2], [3, 4]], [[5], None], None], pa.list_(pa.list_(pa.int32())))
    for fmt in (0, 1):
        assert encode_cells(column, fmt) == [b"{{1,2},{3,4}}", b"{{5},NULL}", None]
