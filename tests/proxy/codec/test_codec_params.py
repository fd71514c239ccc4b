"""Bind parameter decoding, fed with the exact bytes PostgreSQL produces for each value."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal

import pytest

from tests.proxy.codec.oracle import PgOracle
from veil.errors import InvalidTextRepresentation, ProtocolViolation, VeilError
from veil.proxy.codec import Interval, decode_parameter

UTC = dt.UTC

CASES: list[tuple[str, int, object]] = [
    ("true::bool", 16, True),
    ("false::bool", 16, False),
    ("'\\x00ff41'::bytea", 17, b"\x00\xffA"),
    ("'r'::\"char\"", 18, "r"),
    ("'pg_class'::name", 19, "pg_class"),
    ("(-9223372036854775808)::int8", 20, -9223372036854775808),
    ("9223372036854775807::int8", 20, 9223372036854775807),
    ("(-32768)::int2", 21, -32768),
    ("2147483647::int4", 23, 2147483647),
    ("'Zoë ✓'::text", 25, "Zoë ✓"),
    ("4294967295::oid", 26, 4294967295),
    ("'{\"a\": [1, 2]}'::json", 114, '{"a": [1, 2]}'),
    ("0.1::float4", 700, 0.10000000149011612),
    ("'-Infinity'::float8", 701, -math.inf),
    ("1e-300::float8", 701, 1e-300),
    ("'x'::varchar", 1043, "x"),
    ("'2024-02-29'::date", 1082, dt.date(2024, 2, 29)),
    ("'1900-01-01'::date", 1082, dt.date(1900, 1, 1)),
    ("'infinity'::date", 1082, dt.date.max),
    ("'13:14:15.5'::time", 1083, dt.time(13, 14, 15, 500000)),
    ("'2024-02-29 13:14:15.000001'::timestamp", 1114, dt.datetime(2024, 2, 29, 13, 14, 15, 1)),
    ("'1850-06-07 01:02:03'::timestamp", 1114, dt.datetime(1850, 6, 7, 1, 2, 3)),
    ("'-infinity'::timestamp", 1114, dt.datetime.min),
    (
        "'2024-02-29 13:14:15.5+00'::timestamptz",
        1184,
        dt.datetime(2024, 2, 29, 13, 14, 15, 500000, tzinfo=UTC),
    ),
    ("'1 year 2 mons 3 days 04:05:06.5'::interval", 1186, Interval(14, 3, 14_706_500_000)),
    ("'-1 days +02:00:00'::interval", 1186, dt.timedelta(days=-1, hours=2)),
    ("'-00:00:01.25'::interval", 1186, dt.timedelta(seconds=-1.25)),
    (
        "'12:00+05:30'::timetz",
        1266,
        dt.time(12, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    ),
    ("12.50::numeric(10,2)", 1700, Decimal("12.50")),
    ("(-0.000001)::numeric", 1700, Decimal("-0.000001")),
    ("0::numeric(10,3)", 1700, Decimal("0.000")),
    (
        "123456789012345678901234567890.123456789::numeric",
        1700,
        Decimal("123456789012345678901234567890.123456789"),
    ),
    ("10000::numeric", 1700, Decimal(10000)),
    ("'NaN'::numeric", 1700, "NaN"),
    ("'Infinity'::numeric", 1700, Decimal("Infinity")),
    (
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
        2950,
        uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ),
    ("'{\"b\": 1}'::jsonb", 3802, '{"b": 1}'),
    ("ARRAY[1, NULL, 3]::int4[]", 1007, [1, None, 3]),
    ("'{}'::int4[]", 1007, []),
    ("ARRAY[['a b', NULL], ['x\"y', 'NULL']]::text[]", 1009, [["a b", None], ['x"y', "NULL"]]),
    ("ARRAY[1.5, -0.25]::numeric[]", 1231, [Decimal("1.5"), Decimal("-0.25")]),
    ("ARRAY['2020-01-01'::date]", 1182, [dt.date(2020, 1, 1)]),
    ("ARRAY['2020-01-01 10:00'::timestamp]", 1115, [dt.datetime(2020, 1, 1, 10)]),
    ("ARRAY[true, false]", 1000, [True, False]),
    ("ARRAY['\\x01'::bytea, '\\x'::bytea]", 1001, [b"\x01", b""]),
]


def _same(ours: object, expected: object) -> bool:
    if expected == "NaN":
        return isinstance(ours, Decimal) and ours.is_nan()
    if isinstance(expected, Decimal) and isinstance(ours, Decimal):
        return ours == expected and str(ours) == str(expected)
    return ours == expected and type(ours) is type(expected)


@pytest.mark.parametrize(("expression", "oid", "expected"), CASES)
@pytest.mark.parametrize("binary", [False, True])
def test_decode_postgres_bytes(
    pg: PgOracle, expression: str, oid: int, expected: object, binary: bool
) -> None:
    result = pg.cells(f"SELECT {expression}", binary=binary)
    assert result.columns[0].oid == oid
    raw = result.rows[0][0]
    ours = decode_parameter(raw, oid, int(binary))
    assert _same(ours, expected), (expression, binary, ours, expected)


def test_null_and_unknown() -> None:
    assert decode_parameter(None, 23, 0) is None
    assert decode_parameter(None, 23, 1) is None
    assert decode_parameter(b"anything", 0, 0) == "anything"
    assert decode_parameter(b"x", 705, 0) == "x"
    assert decode_parameter(b"\x01\x02", 99999, 1) == b"\x01\x02"


@pytest.mark.parametrize(
    ("text", "oid", "expected"),
    [
        (" 42 ", 23, 42),
        ("+7", 20, 7),
        ("yes", 16, True),
        ("of", 16, False),
        ("1", 16, True),
        ("  NaN ", 701, math.nan),
        ("inf", 701, math.inf),
        ("1.5e3", 1700, Decimal("1.5E+3")),
        ("2024-02-29T13:14:15Z", 1184, dt.datetime(2024, 2, 29, 13, 14, 15, tzinfo=UTC)),
        ("2024-02-29 08:14:15-05", 1184, dt.datetime(2024, 2, 29, 13, 14, 15, tzinfo=UTC)),
        (
            "2024-02-29 13:14:15 Europe/Amsterdam",
            1184,
            dt.datetime(2024, 2, 29, 12, 14, 15, tzinfo=UTC),
        ),
        ("2024-02-29 13:14:15+05", 1114, dt.datetime(2024, 2, 29, 13, 14, 15)),
        ("2024-02-29", 1114, dt.datetime(2024, 2, 29)),
        ("02/29/2024", 1082, dt.date(2024, 2, 29)),
        ("20240229", 1082, dt.date(2024, 2, 29)),
        ("epoch", 1114, dt.datetime(1970, 1, 1)),
        ("P1Y2M3DT4H5M6.5S", 1186, Interval(14, 3, 14_706_500_000)),
        ("PT36H", 1186, dt.timedelta(hours=36)),
        ("@ 1 day 2 hours ago", 1186, dt.timedelta(days=-1, hours=-2)),
        ("1.5 months", 1186, Interval(1, 15, 0)),
        ("90", 1186, dt.timedelta(seconds=90)),
        ("1-2", 1186, Interval(14, 0, 0)),
        ("3 4:05:06", 1186, dt.timedelta(days=3, hours=4, minutes=5, seconds=6)),
        ('{a,"b,c",\\"d,NULL}', 1009, ["a", "b,c", '"d', None]),
        ("{{1,2},{3,4}}", 1007, [[1, 2], [3, 4]]),
        ("[0:1]={5,6}", 1007, [5, 6]),
        ("\\001abc\\\\", 17, b"\x01abc\\"),
        (
            "{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}",
            2950,
            uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        ),
    ],
)
def test_text_forms(text: str, oid: int, expected: object) -> None:
    ours = decode_parameter(text.encode(), oid, 0)
    if isinstance(expected, float) and math.isnan(expected):
        assert isinstance(ours, float) and math.isnan(ours)
    else:
        assert ours == expected


def test_timestamptz_text_uses_session_zone() -> None:
    value = decode_parameter(b"2024-07-01 12:00:00", 1184, 0, timezone="America/New_York")
    assert value == dt.datetime(2024, 7, 1, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "oid", "sqlstate"),
    [
        ("abc", 23, "22P02"),
        ("1.5", 23, "22P02"),
        ("2147483648", 23, "22003"),
        ("1_000", 20, "22P02"),
        ("maybe", 16, "22P02"),
        ("o", 16, "22P02"),
        ("1e400", 701, "22003"),
        ("12..5", 1700, "22P02"),
        ("2024-02-30", 1082, "22008"),
        ("not a date", 1082, "22P02"),
        ("25:00:00", 1083, "22008"),
        ("1 fortnight", 1186, "22P02"),
        ("{1,2", 1007, "22P02"),
        ("{1,x}", 1007, "22P02"),
        ("xyz", 2950, "22P02"),
        ("{bad json", 114, "22P02"),
        ("\\xZZ", 17, "22P02"),
    ],
)
def test_invalid_text(text: str, oid: int, sqlstate: str) -> None:
    with pytest.raises(VeilError) as info:
        decode_parameter(text.encode(), oid, 0)
    assert info.value.sqlstate == sqlstate
    if sqlstate == "22P02":
        assert isinstance(info.value, InvalidTextRepresentation)


@pytest.mark.parametrize(
    ("data", "oid"),
    [
        (b"\x00\x01", 23),
        (b"\x00" * 9, 20),
        (b"", 16),
        (b"\x00" * 15, 2950),
        (b"\x00\x01\x00\x00\x00\x00\x00\x00", 1700),
        (b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x17\x00\x00\x00\x02\x00\x00\x00\x01", 1007),
        (b"\x02{}", 3802),
        (b"\x00" * 12, 1186),
    ],
)
def test_malformed_binary(data: bytes, oid: int) -> None:
    with pytest.raises(ProtocolViolation):
        decode_parameter(data, oid, 1)


def test_invalid_utf8_and_format_code() -> None:
    with pytest.raises(VeilError) as info:
        decode_parameter(b"\xff\xfe", 25, 0)
    assert info.value.sqlstate == "22021"
    with pytest.raises(ProtocolViolation):
        decode_parameter(b"1", 23, 2)
