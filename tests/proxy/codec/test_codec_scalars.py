"""Scalar types, text and binary, byte for byte against PostgreSQL 15."""

from __future__ import annotations

import math
import uuid
from decimal import Decimal, localcontext

import numpy as np
import pyarrow as pa
import pytest

from tests.proxy.codec.conftest import Check
from veil.pgfields import pinned_field
from veil.pgtypes import OID


def test_bool(check: Check) -> None:
    check("bool", ["true", "false", None], pa.array([True, False, None]))


INT_CASES = [
    ("int2", pa.int16(), [-32768, -1, 0, 1, 32767]),
    ("int4", pa.int32(), [-2147483648, -42, 0, 7, 2147483647]),
    ("int8", pa.int64(), [-9223372036854775808, -1, 0, 10**12, 9223372036854775807]),
    ("int2", pa.int8(), [-128, 0, 127]),
    ("int2", pa.uint8(), [0, 200, 255]),
    ("int4", pa.uint16(), [0, 40000, 65535]),
    ("int8", pa.uint32(), [0, 3000000000, 4294967295]),
]


@pytest.mark.parametrize(("type_sql", "arrow_type", "values"), INT_CASES)
def test_integers(check: Check, type_sql: str, arrow_type: pa.DataType, values: list) -> None:
    literals = [f"'{v}'" for v in values] + [None]
    check(type_sql, literals, pa.array([*values, None], arrow_type))


def test_uint64_is_numeric(check: Check) -> None:
    values = [0, 1, 10000, 18446744073709551615, 12345678901234567890]
    literals = [str(v) for v in values] + [None]
    check("numeric(20,0)", literals, pa.array([*values, None], pa.uint64()))


def test_oid_pinned_over_int64(check: Check) -> None:
    field = pinned_field("v", pa.int64(), OID)
    check(
        "oid",
        ["0", "16384", "4294967295", None],
        pa.array([0, 16384, 4294967295, None]),
        field=field,
    )


FLOAT_EDGES = [
    0.0,
    -0.0,
    0.1,
    -0.1,
    1.0,
    1.5,
    100.0,
    1e15,
    1e16,
    1e20,
    1e-5,
    1.5e-7,
    1e-4,
    123456789012345.6,
    9999999999.5,
    1e10,
    5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    math.pi,
    -math.e,
    68322666178056224.0,
    2.0**60,
    math.inf,
    -math.inf,
    math.nan,
]


def _float_literal(value: float) -> str:
    if math.isnan(value):
        return "'NaN'"
    if math.isinf(value):
        return "'Infinity'" if value > 0 else "'-Infinity'"
    return f"'{float(value)!r}'"


def test_float8_edges(check: Check) -> None:
    literals = [_float_literal(v) for v in FLOAT_EDGES] + [None]
    check("float8", literals, pa.array([*FLOAT_EDGES, None], pa.float64()))


def test_float4_edges(check: Check) -> None:
    values = np.array(
        [v for v in FLOAT_EDGES if abs(v) < 3e38 or not math.isfinite(v)], dtype=np.float32
    )
    literals = [_float_literal(float(v)) for v in values] + [None]
    check("float4", literals, pa.array([*values, None], pa.float32()))


@pytest.mark.parametrize("scale", [1e-12, 1e-6, 1e-3, 1.0, 1e3, 1e6, 1e9, 1e12, 1e14, 1e17, 1e22])
def test_float8_random(check: Check, scale: float) -> None:
    rng = np.random.default_rng(int(math.log10(scale)) + 50)
    values = rng.standard_normal(400) * scale
    values = np.concatenate([values, np.round(values, 2), np.round(values * 8) / 8])
    check("float8", [_float_literal(v) for v in values], pa.array(values))


@pytest.mark.parametrize("scale", [1e-6, 1e-3, 1.0, 1e5, 1e7, 1e9, 1e12])
def test_float4_random(check: Check, scale: float) -> None:
    rng = np.random.default_rng(int(math.log10(scale)) + 20)
    values = (rng.standard_normal(400) * scale).astype(np.float32)
    check("float4", [_float_literal(float(v)) for v in values], pa.array(values))


def test_float16_widened(check: Check) -> None:
    values = np.array([0.5, -2.0, 65504.0, 0.1], dtype=np.float16)
    literals = [_float_literal(float(np.float32(v))) for v in values]
    check("float4", literals, pa.array(values))


NUMERIC_CASES = [
    (10, 2, ["12.50", "-12.50", "0.00", "0.05", "-0.05", "99999999.99", "-99999999.99", "1.00"]),
    (18, 0, ["0", "1", "-1", "999999999999999999", "-999999999999999999", "10000", "100000000"]),
    (18, 18, ["0.000000000000000001", "-0.999999999999999999", "0.5", "0"]),
    (18, 5, ["1234567890123.45678", "0.00001", "-0.10000", "10000.00000", "12345.1"]),
    (12, 7, ["0.0000001", "-0.0000100", "12345.6789012", "10000.0001000"]),
    (38, 10, ["1234567890123456789012345678.0123456789", "-0.0000000001", "0", "1e20"]),
    (38, 0, ["12345678901234567890123456789012345678", "-1", "10000000000000000000000"]),
    (5, 5, ["0.12345", "-0.00001"]),
    (
        76,
        20,
        [
            "123456789012345678901234567890123456789012345678901234.56789012345678901234",
            "-0.00000000000000000001",
        ],
    ),
]


@pytest.mark.parametrize(("precision", "scale", "values"), NUMERIC_CASES)
def test_numeric(check: Check, precision: int, scale: int, values: list[str]) -> None:
    literals = [f"'{v}'" for v in values] + [None]
    with localcontext(prec=100):
        decimals = [Decimal(v).quantize(Decimal(1).scaleb(-scale)) for v in values]
    arrow_type = (
        pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    )
    arrow = pa.array([*decimals, None], arrow_type)
    check(f"numeric({min(precision, 1000)},{scale})", literals, arrow)


def test_numeric_decimal64_random(check: Check) -> None:
    rng = np.random.default_rng(7)
    unscaled = rng.integers(-(10**15), 10**15, 500)
    values = [Decimal(int(v)).scaleb(-4) for v in unscaled]
    check("numeric(18,4)", [f"'{v}'" for v in values], pa.array(values, pa.decimal128(18, 4)))


def test_text(check: Check) -> None:
    values = ["hello", "", "Zoë ünïcode ✓ 日本語 🎉", "tab\tnew\nline", "quote ' \" \\", " ", None]
    literals = [None if v is None else "'" + v.replace("'", "''") + "'" for v in values]
    check("text", literals, pa.array(values))
    check("text", literals, pa.array(values, pa.large_string()))
    check("text", literals, pa.array(values, pa.string_view()))
    check("text", literals, pa.array(values).dictionary_encode())


def test_bytea(check: Check) -> None:
    values = [b"", b"\x00\xff", b"abc", bytes(range(256)), None]
    literals = [None if v is None else f"'\\x{v.hex()}'" for v in values]
    check("bytea", literals, pa.array(values, pa.binary()))
    check("bytea", literals, pa.array(values, pa.large_binary()))


def test_bytea_fixed_size(check: Check) -> None:
    values = [b"\x01\x02\x03", b"\xff\x00\xee", None]
    literals = [None if v is None else f"'\\x{v.hex()}'" for v in values]
    check("bytea", literals, pa.array(values, pa.binary(3)))


def test_uuid(check: Check) -> None:
    values = [
        uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        uuid.UUID(int=0),
        uuid.UUID(int=2**128 - 1),
        None,
    ]
    literals = [None if v is None else f"'{v}'" for v in values]
    raw = [None if v is None else v.bytes for v in values]
    check("uuid", literals, pa.array(raw, pa.binary(16)))
    check("uuid", literals, pa.array(raw, pa.uuid()))


def test_json(check: Check) -> None:
    values = ['{"a": [1, 2, {"b": null}]}', "[]", '"str"', "3.5", None]
    literals = [None if v is None else f"'{v}'" for v in values]
    check("json", literals, pa.array(values, pa.json_(pa.string())))


def test_sliced_array(check: Check) -> None:
    base = pa.array([None, 1, 2, 3, None, 5], pa.int64())
    check("int8", ["2", "3", None], base.slice(2, 3))
    text = pa.array(["x", "yy", None, "zzz"])
    check("text", ["'yy'", None, "'zzz'"], text.slice(1))
