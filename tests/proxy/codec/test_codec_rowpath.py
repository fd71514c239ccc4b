"""The row path (batches of at most ``SMALL_BATCH_ROWS`` rows) against the vectorised encoders.

Both paths must produce the same bytes for every type, format and session zone. The PostgreSQL
comparisons in the other codec tests already run both paths (``oracle.encode_cells``); here
many more values are compared without a server: random bit patterns, every precision, years
1..9999, zone offsets with minutes and seconds, values the row path declines, sliced arrays.
"""

from __future__ import annotations

import datetime as dt
import struct
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from tests.proxy.codec.oracle import both_paths
from veil.pgfields import pinned_field
from veil.pgtypes import INT2, JSONB, OID, TEXT, PgType
from veil.proxy.codec import datarow, encode_data_rows
from veil.proxy.codec.columns import prepare
from veil.proxy.codec.plan import plan_for, prepared_type
from veil.proxy.codec.rowpath import float8_text

RNG_SEED = 20240229
ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns"]


def agree(
    array: pa.Array,
    *,
    field: pa.Field | None = None,
    timezone: str = "UTC",
    row_path: bool | None = None,
    row_path_formats: tuple[int, ...] = (0, 1),
) -> None:
    """Text and binary: both paths give the same bytes. ``row_path`` True/False also checks,
    in ``row_path_formats``, whether the row path handled every slice itself (True) or
    declined them all (False)."""
    schema = pa.schema([field if field is not None else pa.field("v", array.type)])
    batch = pa.RecordBatch.from_arrays([array], schema=schema)
    for fmt in (0, 1):
        both_paths(batch, [fmt], timezone)
        if row_path is None or fmt not in row_path_formats:
            continue
        column = plan_for(schema, [fmt], timezone).columns[0]
        step = datarow.SMALL_BATCH_ROWS
        handled = [
            column.cells is not None and column.cells(prepare(array.slice(start, step))) is not None
            for start in range(0, len(array), step)
        ]
        assert all(handled) if row_path else not any(handled), f"format {fmt}: {handled}"


def rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


def with_nulls(values: list, every: int = 7) -> list:
    return [None if i % every == 3 else v for i, v in enumerate(values)]


# --- scalars ----------------------------------------------------------------------------------


def test_null_and_bool() -> None:
    agree(pa.nulls(11), row_path=True)
    agree(pa.array(with_nulls([bool(i % 2) for i in range(20)])), row_path=True)


INT_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32()]


@pytest.mark.parametrize("arrow_type", INT_TYPES, ids=str)
def test_integers(arrow_type: pa.DataType) -> None:
    info = np.iinfo(arrow_type.to_pandas_dtype())
    edges = [info.min, info.min + 1, -1 if info.min else 0, 0, 1, info.max - 1, info.max]
    values = rng().integers(info.min, info.max, 200, endpoint=True).tolist()
    agree(pa.array(with_nulls(edges + values), arrow_type), row_path=True)


def test_uint64_numeric() -> None:
    values = [
        0,
        1,
        9999,
        10000,
        2**63,
        2**64 - 1,
        *rng().integers(0, 2**64 - 1, 100, dtype=np.uint64).tolist(),
    ]
    agree(pa.array(with_nulls(values), pa.uint64()), row_path=True)


@pytest.mark.parametrize(
    ("arrow_type", "pg_type", "values"),
    [
        (pa.int64(), OID, [0, 1, 16384, 2**32 - 1, 2**32, -1]),
        (pa.uint8(), INT2, [0, 200, 255]),
        (pa.int32(), TEXT, [-5, 0, 7]),
        (pa.int64(), PgType(18, '"char"', "int1", 1, 0), [0, 65, 255, -1]),
    ],
    ids=["int64-oid", "uint8-int2", "int32-text", "int64-char"],
)
def test_pinned_integers(arrow_type: pa.DataType, pg_type: PgType, values: list) -> None:
    agree(pa.array([*values, None], arrow_type), field=pinned_field("v", arrow_type, pg_type))


def _random_doubles(count: int) -> np.ndarray:
    bits = rng().integers(0, 2**64 - 1, count, dtype=np.uint64, endpoint=True)
    return bits.view(np.float64)


FLOAT_EDGES = [
    0.0,
    -0.0,
    1.0,
    -1.5,
    0.1,
    1e-4,
    9.99e-5,
    1e-5,
    1.5e-7,
    123456.789,
    1e14,
    1e15,
    1e16,
    999999999999999.9,
    123456789012345.6,
    9999999999.5,
    1e10,
    2.0**53,
    2.0**53 + 2,
    2.0**54 - 2,
    2.0**54,
    2.0**60,
    5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    float("inf"),
    float("-inf"),
    float("nan"),
]


def test_float8_random_bits() -> None:
    agree(pa.array(with_nulls(FLOAT_EDGES)))
    values = _random_doubles(20_000)
    agree(pa.array(values, pa.float64()))


def test_float8_short_decimals() -> None:
    generator = rng()
    mantissas = generator.integers(1, 10**6, 5_000)
    exponents = generator.integers(-12, 20, 5_000)
    values = mantissas * 10.0 ** exponents.astype(np.float64)
    signs = np.where(generator.random(5_000) < 0.5, -1.0, 1.0)
    common = values * signs
    agree(pa.array(common[np.abs(common) < 2.0**54]), row_path=True)
    agree(pa.array(common))


def test_float8_text_declines_only_huge_values() -> None:
    assert float8_text(2.0**54) is None
    assert float8_text(-(2.0**60)) is None
    assert float8_text(2.0**54 - 2) is not None
    assert float8_text(float("inf")) == b"Infinity"


def test_float4_and_pinned_floats() -> None:
    bits = rng().integers(0, 2**32 - 1, 2_000, dtype=np.uint32, endpoint=True)
    values = bits.view(np.float32)
    agree(pa.array(values, pa.float32()))
    agree(pa.array(with_nulls([1.5, -0.0, 3.25e-7]), pa.float16()))
    field = pinned_field("v", pa.float64(), PgType(700, "float4", "float4", 4, 0))
    agree(pa.array([1.1, 2.5, None]), field=field)


DECIMALS = [
    (pa.decimal128, 1, 0),
    (pa.decimal128, 5, 2),
    (pa.decimal128, 12, 2),
    (pa.decimal128, 18, 4),
    (pa.decimal128, 18, 18),
    (pa.decimal128, 19, 0),
    (pa.decimal128, 20, 7),
    (pa.decimal128, 38, 10),
    (pa.decimal128, 38, 0),
    (pa.decimal128, 38, 38),
    (pa.decimal256, 76, 20),
    (pa.decimal256, 50, 3),
    (pa.decimal32, 9, 3),
    (pa.decimal64, 18, 6),
]


@pytest.mark.parametrize(("factory", "precision", "scale"), DECIMALS, ids=lambda v: str(v))
def test_decimals(factory, precision: int, scale: int) -> None:
    generator = rng()
    top = 10**precision - 1
    unscaled = [0, 1, -1, top, -top, min(10**scale, top), -(10 ** (precision // 2))]
    for digits in generator.integers(1, precision + 1, 150).tolist():
        value = int("".join(str(d) for d in generator.integers(0, 10, digits)))
        unscaled.append(value if generator.random() < 0.5 else -value)
    agree(decimal_array(with_nulls(unscaled), factory(precision, scale)), row_path=True)


def decimal_array(unscaled: list[int | None], arrow_type: pa.DataType) -> pa.Array:
    """A decimal array from unscaled integers (pyarrow's own inference trips on mixed digits)."""
    width = arrow_type.bit_width // 8
    data = b"".join((v or 0).to_bytes(width, "little", signed=True) for v in unscaled)
    valid = np.array([v is not None for v in unscaled])
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(
        arrow_type, len(unscaled), [bitmap, pa.py_buffer(data)], null_count=int((~valid).sum())
    )


def test_negative_scale_decimal_declined() -> None:
    agree(decimal_array([1, -5, None], pa.decimal128(5, -3)), row_path=False)


# --- strings and bytes ------------------------------------------------------------------------

STRINGS = ["", "a", "customer name 1", "Zoë ünïcode ☃", 'quote"d', "tab\there", "x" * 300]


@pytest.mark.parametrize("arrow_type", [pa.string(), pa.large_string(), pa.string_view()], ids=str)
def test_strings(arrow_type: pa.DataType) -> None:
    agree(pa.array(with_nulls(STRINGS * 3), arrow_type), row_path=True)


def test_dictionary_strings() -> None:
    array = pa.array(with_nulls(STRINGS * 2)).dictionary_encode()
    agree(array, row_path=True)


def test_bytea() -> None:
    values = [b"", b"\x00", b"\xff\x00abc", bytes(range(256))]
    agree(pa.array(with_nulls(values * 3), pa.binary()), row_path=True)
    agree(pa.array(with_nulls(values * 3), pa.large_binary()), row_path=True)
    agree(pa.array(with_nulls([b"abc", b"\x01\x02\x03"] * 5), pa.binary(3)), row_path=True)


def test_uuid() -> None:
    raw = [bytes(rng().integers(0, 256, 16, dtype=np.uint8)) for _ in range(20)]
    agree(pa.array(with_nulls(raw), pa.binary(16)), row_path=True)
    agree(pa.array(with_nulls(raw), pa.uuid()), row_path=True)


def test_uuid_text_column_binary_declined() -> None:
    uuid_type = PgType(2950, "uuid", "uuid", 16, 0)
    field = pinned_field("v", pa.string(), uuid_type)
    array = pa.array(["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", None])
    agree(array, field=field)


def test_jsonb_text_column() -> None:
    field = pinned_field("v", pa.string(), JSONB)
    agree(pa.array(['{"a": 1}', "[]", None]), field=field, row_path=True)


# --- dates and times --------------------------------------------------------------------------

DAY_MIN = dt.date(1, 1, 1).toordinal() - 719_163
DAY_MAX = dt.date(9999, 12, 31).toordinal() - 719_163


def test_dates() -> None:
    days = rng().integers(DAY_MIN, DAY_MAX, 2_000, endpoint=True).tolist()
    agree(pa.array(with_nulls([DAY_MIN, DAY_MAX, 0, -1, *days]), pa.date32()), row_path=True)
    millis = [d * 86_400_000 + 123 for d in days[:200]]
    agree(pa.array(with_nulls(millis), pa.date64()), row_path=True)


def test_dates_declined() -> None:
    for days in ([DAY_MIN - 1, 5], [DAY_MAX + 1], [2**31 - 1, 0], [-(2**31) + 1], [-(2**31)]):
        agree(pa.array(days, pa.date32()), row_path=False, row_path_formats=(0,))
    for millis in ([2**63 - 1], [-(2**63)], [(DAY_MAX + 400) * 86_400_000]):
        agree(pa.array(millis, pa.date64()), row_path=False, row_path_formats=(0,))


@pytest.mark.parametrize(
    ("arrow_type", "per_day"),
    [
        (pa.time32("s"), 86_400),
        (pa.time32("ms"), 86_400_000),
        (pa.time64("us"), 86_400_000_000),
        (pa.time64("ns"), 86_400_000_000_000),
    ],
    ids=str,
)
def test_times(arrow_type: pa.DataType, per_day: int) -> None:
    values = rng().integers(0, per_day, 1_000, endpoint=True).tolist()
    whole = [v - v % (per_day // 86_400) for v in values[:100]]
    agree(pa.array(with_nulls([0, per_day, *values, *whole]), arrow_type), row_path=True)
    agree(pa.array([-1, 5], arrow_type), row_path=False, row_path_formats=(0,))
    agree(
        pa.array([per_day + per_day // 86_400], arrow_type), row_path=False, row_path_formats=(0,)
    )


UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _instants(unit: str, count: int) -> list[int]:
    """Random instants between years 1 and 9999 (ns: the int64 range, 1678..2262)."""
    per_second = UNITS[unit]
    if unit == "ns":
        low, high = -(2**63) + 1, 2**63 - 2
    else:
        low = DAY_MIN * 86_400 * per_second + 86_400 * per_second
        high = DAY_MAX * 86_400 * per_second - 86_400 * per_second
    values = rng().integers(low, high, count).tolist()
    rounded = [v - v % per_second for v in values[: count // 4]]
    return values + rounded


@pytest.mark.parametrize("unit", list(UNITS))
def test_timestamps(unit: str) -> None:
    values = with_nulls(_instants(unit, 1_000))
    agree(pa.array(values, pa.timestamp(unit)), row_path=True)


@pytest.mark.parametrize("zone", ZONES)
def test_timestamptz(zone: str) -> None:
    values = with_nulls(_instants("us", 600))
    # Local mean time offsets with seconds (-04:56:02 in New York before 1883).
    values += [-3_000_000_000_000_000, -2_717_650_000_000_000, 0, 1_700_000_000_123_450]
    array = pa.array(values, pa.timestamp("us", tz="UTC"))
    agree(array, timezone=zone, row_path=True)


def test_timestamps_declined() -> None:
    big = (DAY_MAX + 2) * 86_400_000_000
    for values in ([2**63 - 1, 0], [-(2**63) + 1], [-(2**63)], [big], [-big * 2]):
        text_declined = {"row_path": False, "row_path_formats": (0,)}
        agree(pa.array(values, pa.timestamp("us")), **text_declined)
        zoned = pa.array(values, pa.timestamp("us", tz="UTC"))
        agree(zoned, timezone="Asia/Kolkata", **text_declined)
    # Seconds that overflow int64 microseconds: numpy wraps, the binary bytes must still agree.
    agree(pa.array([2**62, -(2**62), 12], pa.timestamp("s")))


def test_timestamp_pinned_without_zone() -> None:
    field = pinned_field(
        "v", pa.timestamp("us", tz="UTC"), PgType(1114, "timestamp", "timestamp", 8, 0)
    )
    agree(
        pa.array([0, 1_700_000_000_000_001, None], pa.timestamp("us", tz="UTC")),
        field=field,
        timezone="Asia/Kolkata",
    )


# --- types the row path leaves to the vectorised encoders -------------------------------------


def test_other_types_fall_back() -> None:
    agree(pa.array([dt.timedelta(days=1, microseconds=5), None]), row_path=False)
    agree(pa.array([[1, None, 3], [], None], pa.list_(pa.int32())), row_path=False)
    agree(pa.array([{"a": 1, "b": "x"}, None]), row_path=False)
    agree(pa.array([1.5, None], pa.float32()), row_path=False, row_path_formats=(0,))


def test_mixed_batch_mixed_formats() -> None:
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array([1, None, 3], pa.int64()),
            pa.array(["a", "bb", None]),
            pa.array([0.1, -2.5, None]),
            pa.array([Decimal("1.25"), None, Decimal("-0.01")], pa.decimal128(12, 2)),
            pa.array([0, 1_700_000_000_000_000, None], pa.timestamp("us", tz="UTC")),
            pa.array([[1], None, []], pa.list_(pa.int64())),
        ],
        names=["i", "s", "f", "d", "t", "l"],
    )
    for formats in ([0], [1], [0, 1, 1, 0, 1, 0], [1, 0, 0, 1, 0, 1]):
        for zone in ("UTC", "Asia/Kathmandu"):
            assert bytes(encode_data_rows(batch, formats, zone)) == both_paths(batch, formats, zone)


def test_no_columns() -> None:
    batch = pa.RecordBatch.from_pydict({"a": [1, 2, 3]}).select([])
    assert bytes(encode_data_rows(batch, [])) == both_paths(batch, [])
    assert bytes(encode_data_rows(batch, [])) == (b"D" + struct.pack("!ih", 6, 0)) * 3


def test_plan_cache_distinguishes_pinned_types() -> None:
    plain = pa.RecordBatch.from_arrays([pa.array([7], pa.int64())], names=["v"])
    pinned = pa.RecordBatch.from_arrays(
        [pa.array([7], pa.int64())], schema=pa.schema([pinned_field("v", pa.int64(), OID)])
    )
    assert bytes(encode_data_rows(plain, [1])).endswith(
        b"\x00\x00\x00\x08" + (7).to_bytes(8, "big")
    )
    assert bytes(encode_data_rows(pinned, [1])).endswith(
        b"\x00\x00\x00\x04" + (7).to_bytes(4, "big")
    )
    assert bytes(encode_data_rows(plain, [1])).endswith(
        b"\x00\x00\x00\x08" + (7).to_bytes(8, "big")
    )


def test_prepared_type_matches_prepare() -> None:
    arrays = [
        pa.array(["a"], pa.large_string()),
        pa.array(["a"], pa.string_view()),
        pa.array([b"a"], pa.binary_view()),
        pa.array(["a"]).dictionary_encode(),
        pa.array([1.5], pa.float16()),
        pa.array([b"0123456789abcdef"], pa.uuid()),
        pa.array([[1]], pa.list_view(pa.int64())),
        pa.array([[1]], pa.large_list_view(pa.int64())),
        pa.array([1], pa.int64()),
    ]
    for array in arrays:
        assert prepared_type(array.type) == prepare(array).type, array.type
