"""Whole messages: RowDescription and multi-column DataRow streams against PostgreSQL."""

from __future__ import annotations

import datetime as dt
import struct
from decimal import Decimal

import pyarrow as pa
import pytest

from tests.proxy.codec.oracle import PgOracle, data_rows, encode_cells, split_data_rows
from veil.errors import ProtocolViolation
from veil.pgfields import pinned_field
from veil.pgtypes import CHAR, NAME, OID
from veil.proxy.codec import datarow, encode_data_rows, row_description

MIXED_SQL = """
SELECT i, id, name, amount::numeric(12,2), created, ratio, flag, tags, day FROM (VALUES
  (1, 42::int8, 'Ada'::text, 12.50::numeric(12,2), '2024-01-02 03:04:05.123456'::timestamp,
   0.1::float8, true, ARRAY['new','vip'], '2024-02-29'::date),
  (2, NULL, '', -7.25, '1999-12-31 23:59:59', 'NaN', false, ARRAY[]::text[], NULL),
  (3, -9223372036854775808, 'Zoë ünïcode', NULL, NULL, NULL, NULL, NULL, '0001-01-01 BC')
) AS t(i, id, name, amount, created, ratio, flag, tags, day) ORDER BY i
"""


def _mixed_batch() -> pa.RecordBatch:
    created = [
        dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
        dt.datetime(1999, 12, 31, 23, 59, 59),
        None,
    ]
    day_0001_bc = -719528
    return pa.RecordBatch.from_pydict(
        {
            "i": pa.array([1, 2, 3], pa.int32()),
            "id": pa.array([42, None, -9223372036854775808], pa.int64()),
            "name": pa.array(["Ada", "", "Zoë ünïcode"]),
            "amount": pa.array([Decimal("12.50"), Decimal("-7.25"), None], pa.decimal128(12, 2)),
            "created": pa.array(created, pa.timestamp("us")),
            "ratio": pa.array([0.1, float("nan"), None]),
            "flag": pa.array([True, False, None]),
            "tags": pa.array([["new", "vip"], [], None], pa.list_(pa.string())),
            "day": pa.array([19782, None, day_0001_bc], pa.date32()),
        }
    )


@pytest.mark.parametrize("binary", [False, True])
def test_mixed_batch_matches_postgres(pg: PgOracle, binary: bool) -> None:
    result = pg.cells(MIXED_SQL, binary=binary)
    expected = data_rows(result.rows)
    assert bytes(encode_data_rows(_mixed_batch(), [int(binary)])) == expected


def test_mixed_formats_per_column(pg: PgOracle) -> None:
    text = pg.cells(MIXED_SQL, binary=False).rows
    binary = pg.cells(MIXED_SQL, binary=True).rows
    formats = [i % 2 for i in range(9)]
    rows = [
        [(b if f else t) for t, b, f in zip(tr, br, formats, strict=True)]
        for tr, br in zip(text, binary, strict=True)
    ]
    assert bytes(encode_data_rows(_mixed_batch(), formats)) == data_rows(rows)


def test_row_description_matches_postgres(pg: PgOracle) -> None:
    result = pg.cells(MIXED_SQL, binary=False)
    schema = _mixed_batch().schema
    body = struct.pack("!h", len(result.columns))
    for column in result.columns:
        body += column.name.encode() + b"\0"
        body += struct.pack("!ihihih", 0, 0, column.oid, column.size, column.typmod, 1)
    expected = b"T" + struct.pack("!i", len(body) + 4) + body
    assert row_description(schema, [1]) == expected


def test_row_description_types(pg: PgOracle) -> None:
    sql = (
        "SELECT 1::int2 a, 1::int4 b, 1.5::float4 c, 'x'::bytea d, "
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid e, '1 day'::interval f, "
        "'12:00'::time g, '2020-01-01'::timestamptz h, ARRAY[1.5::numeric(10,2)] i, "
        "'{}'::json j, 'x'::name k, 'x'::\"char\" l, 1::oid m"
    )
    columns = pg.cells(sql, binary=False).columns
    schema = pa.schema(
        [
            ("a", pa.int16()),
            ("b", pa.int32()),
            ("c", pa.float32()),
            ("d", pa.binary()),
            ("e", pa.uuid()),
            ("f", pa.month_day_nano_interval()),
            ("g", pa.time64("us")),
            ("h", pa.timestamp("us", tz="UTC")),
            ("i", pa.list_(pa.decimal128(10, 2))),
            ("j", pa.struct([("x", pa.int32())])),
            pinned_field("k", pa.string(), NAME),
            pinned_field("l", pa.string(), CHAR),
            pinned_field("m", pa.int64(), OID),
        ]
    )
    message = row_description(schema, [0])
    position = 7
    for column in columns:
        end = message.index(b"\0", position)
        assert message[position:end].decode() == column.name
        _, _, oid, size, typmod, _ = struct.unpack("!ihihih", message[end + 1 : end + 19])
        assert (oid, size, typmod) == (column.oid, column.size, column.typmod), column.name
        position = end + 19


def test_pinned_text_types_binary(pg: PgOracle) -> None:
    result = pg.cells("SELECT 'pg_class'::name, 'r'::\"char\", 1259::oid", binary=True)
    batch = pa.RecordBatch.from_arrays(
        [pa.array(["pg_class"]), pa.array(["r"]), pa.array([1259], pa.int64())],
        schema=pa.schema(
            [
                pinned_field("a", pa.string(), NAME),
                pinned_field("b", pa.string(), CHAR),
                pinned_field("c", pa.int64(), OID),
            ]
        ),
    )
    assert bytes(encode_data_rows(batch, [1])) == data_rows(result.rows)


def test_struct_as_json_matches_row_to_json(pg: PgOracle) -> None:
    sql = (
        "SELECT row_to_json(t)::text FROM (SELECT 1 AS a, 'x\"y\\' AS b, ARRAY[1,2] AS g, "
        "'2020-01-01 10:00:00.5'::timestamp AS c, '2020-01-01 00:00+00'::timestamptz AS d, "
        "true AS i, NULL::int AS j, 1.50 AS o, 'NaN'::float8 AS e, 2.5::float8 AS f, "
        "E'\\x01\\n' AS l, '2020-01-02'::date AS m, '\\x01'::bytea AS h) t"
    )
    expected = pg.cells(sql, binary=False).column()
    struct_type = pa.struct(
        [
            ("a", pa.int32()),
            ("b", pa.string()),
            ("g", pa.list_(pa.int32())),
            ("c", pa.timestamp("us")),
            ("d", pa.timestamp("us", tz="UTC")),
            ("i", pa.bool_()),
            ("j", pa.int32()),
            ("o", pa.decimal128(3, 2)),
            ("e", pa.float64()),
            ("f", pa.float64()),
            ("l", pa.string()),
            ("m", pa.date32()),
            ("h", pa.binary()),
        ]
    )
    value = {
        "a": 1,
        "b": 'x"y\\',
        "g": [1, 2],
        "c": dt.datetime(2020, 1, 1, 10, 0, 0, 500000),
        "d": dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        "i": True,
        "j": None,
        "o": Decimal("1.50"),
        "e": float("nan"),
        "f": 2.5,
        "l": "\x01\n",
        "m": dt.date(2020, 1, 2),
        "h": b"\x01",
    }
    column = pa.array([value], struct_type)
    assert encode_cells(column, 0) == expected
    assert encode_cells(column, 1) == expected


def test_struct_and_map_json_shapes() -> None:
    struct_column = pa.array(
        [{"x": 1, "y": {"z": [True, None]}}, None],
        pa.struct([("x", pa.int64()), ("y", pa.struct([("z", pa.list_(pa.bool_()))]))]),
    )
    assert encode_cells(struct_column, 0) == [b'{"x":1,"y":{"z":[true,null]}}', None]
    map_column = pa.array([[("k", 1), ('q"', None)], [], None], pa.map_(pa.string(), pa.int32()))
    assert encode_cells(map_column, 0) == [b'{"k":1,"q\\"":null}', b"{}", None]
    int_keys = pa.array([[(1, "a")]], pa.map_(pa.int32(), pa.string()))
    assert encode_cells(int_keys, 0) == [b'{"1":"a"}']


def test_layouts_and_encodings(pg: PgOracle) -> None:
    expected = pg.cells(
        "SELECT v FROM (VALUES (1,'a'),(2,NULL),(3,'b'),(4,'a')) t(i,v) ORDER BY i", binary=False
    ).column()
    plain = pa.array(["a", None, "b", "a"])
    assert encode_cells(plain.dictionary_encode(), 0) == expected
    assert encode_cells(pa.chunked_array([plain[:2], plain[2:]]), 0) == expected
    run_ends = pa.RunEndEncodedArray.from_arrays([1, 2, 3, 4], ["a", None, "b", "a"])
    assert encode_cells(run_ends, 0) == expected


def test_null_type_column() -> None:
    column = pa.nulls(3)
    assert encode_cells(column, 0) == [None, None, None]
    assert encode_cells(column, 1) == [None, None, None]
    description = row_description(pa.schema([("n", pa.null())]), [0])
    assert struct.unpack("!i", description[9:13])[0] == 0
    assert struct.unpack("!i", description[15:19])[0] == 25


def test_empty_batch_and_no_columns() -> None:
    empty = pa.RecordBatch.from_pydict({"a": pa.array([], pa.int64())})
    assert bytes(encode_data_rows(empty, [0])) == b""
    no_columns = pa.RecordBatch.from_pydict({"a": [1, 2]}).select([])
    assert bytes(encode_data_rows(no_columns, [])) == data_rows([[], []])


def test_format_codes() -> None:
    batch = pa.RecordBatch.from_pydict({"a": [1], "b": ["x"]})
    assert bytes(encode_data_rows(batch, [])) == bytes(encode_data_rows(batch, [0, 0]))
    assert bytes(encode_data_rows(batch, [1])) == bytes(encode_data_rows(batch, [1, 1]))
    with pytest.raises(ProtocolViolation):
        encode_data_rows(batch, [0, 1, 0])
    with pytest.raises(ProtocolViolation):
        encode_data_rows(batch, [2])
    with pytest.raises(ProtocolViolation):
        row_description(batch.schema, [0, 0, 0])


def test_large_output_is_assembled_in_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    batch = _mixed_batch()
    big = pa.Table.from_batches([batch] * 50).combine_chunks().to_batches()[0]
    whole = bytes(encode_data_rows(big, [0]))
    monkeypatch.setattr(datarow, "_MAX_CHUNK_BYTES", 200)
    assert bytes(encode_data_rows(big, [0])) == whole
    assert len(split_data_rows(whole)) == big.num_rows


def test_timezone_argument_is_positional_too() -> None:
    batch = pa.RecordBatch.from_pydict({"t": pa.array([0], pa.timestamp("us", tz="UTC"))})
    assert bytes(encode_data_rows(batch, [0], "America/New_York")).endswith(
        b"1969-12-31 19:00:00-05"
    )
    assert bytes(encode_data_rows(batch, [0], timezone="UTC")).endswith(b"1970-01-01 00:00:00+00")


EDGE_TYPES = [
    pa.int32(),
    pa.uint64(),
    pa.float64(),
    pa.float32(),
    pa.float16(),
    pa.string(),
    pa.large_string(),
    pa.string_view(),
    pa.binary(),
    pa.date32(),
    pa.date64(),
    pa.timestamp("us"),
    pa.timestamp("ns", tz="UTC"),
    pa.time64("us"),
    pa.time32("s"),
    pa.decimal128(10, 2),
    pa.decimal128(30, 2),
    pa.decimal256(50, 3),
    pa.duration("us"),
    pa.month_day_nano_interval(),
    pa.bool_(),
    pa.binary(16),
    pa.binary(3),
    pa.struct([("a", pa.int32())]),
    pa.map_(pa.string(), pa.int32()),
    pa.list_(pa.int32()),
    pa.list_(pa.list_(pa.int32())),
    pa.null(),
    pa.dictionary(pa.int8(), pa.string()),
]


@pytest.mark.parametrize("arrow_type", EDGE_TYPES, ids=str)
@pytest.mark.parametrize("fmt", [0, 1])
def test_all_null_and_empty_children(arrow_type: pa.DataType, fmt: int) -> None:
    """NULL-only columns, and lists whose child arrays are empty, of every supported layout."""
    assert encode_cells(pa.array([None, None], arrow_type), fmt) == [None, None]
    lists = pa.array([[], None], pa.list_(arrow_type))
    cells = encode_cells(lists, fmt)
    assert cells[1] is None and cells[0] is not None


def test_small_batch_rows_are_reused_only_for_that_batch() -> None:
    """A batch sent again (a latency-cache hit) reuses its DataRows; another batch, even one
    that gets the first's id once that is freed, or other formats or zone, is encoded anew."""
    schema = pa.schema([("id", pa.int64()), ("at", pa.timestamp("us", tz="UTC"))])
    moment = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

    def batch(value: int) -> pa.RecordBatch:
        return pa.record_batch([pa.array([value]), pa.array([moment])], schema=schema)

    first = batch(1)
    sent = bytes(encode_data_rows(first, [0]))
    assert bytes(encode_data_rows(first, [0])) == sent
    assert bytes(encode_data_rows(first, [1])) != sent
    assert bytes(encode_data_rows(first, [0], "Asia/Tokyo")) != sent
    assert any(key[0] == id(first) for key in datarow._encoded)
    freed = id(first)
    del first
    assert not any(key[0] == freed for key in datarow._encoded), "the entry goes with its batch"
    for value in range(2, 50):  # new batches, some of which reuse the freed id
        fresh = batch(value)
        assert split_data_rows(bytes(encode_data_rows(fresh, [0]))) == [[str(value).encode(), b"2024-01-02 03:04:05+00"]]
