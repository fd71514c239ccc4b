"""Dates, times, timestamps and intervals against PostgreSQL 15 (text and binary)."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from tests.proxy.codec.conftest import Check
from tests.proxy.codec.oracle import PgOracle

EPOCH_2000 = dt.date(2000, 1, 1)
UNIX_EPOCH_DAYS = 10957


def _days_from_pg(pg: PgOracle, sql: str) -> list[int | None]:
    """Days since 1970 of PostgreSQL dates (from its binary form)."""
    cells = pg.cells(sql, binary=True).column()
    return [
        None if c is None else int.from_bytes(c, "big", signed=True) + UNIX_EPOCH_DAYS
        for c in cells
    ]


def _micros_from_pg(pg: PgOracle, sql: str) -> list[int | None]:
    cells = pg.cells(sql, binary=True).column()
    return [
        None if c is None else int.from_bytes(c, "big", signed=True) + 946_684_800_000_000
        for c in cells
    ]


DATES = [
    "'2024-02-29'",
    "'2000-01-01'",
    "'1999-12-31'",
    "'1970-01-01'",
    "'0001-01-01'",
    "'0099-12-31'",
    "'0044-03-15 BC'",
    "'0001-01-01 BC'",
    "'4713-01-01 BC'",
    "'9999-12-31'",
    "'12345-06-07'",
    "'5874897-12-31'",
    "'1900-03-01'",
    None,
]


def test_date(check: Check, pg: PgOracle) -> None:
    days = _days_from_pg(pg, pg.values("date", DATES))
    check("date", DATES, pa.array(days, pa.date32()))


def test_date_infinity(check: Check) -> None:
    literals = ["'infinity'", "'-infinity'", "'2020-01-01'"]
    raw = [2**31 - 1, -(2**31), 18262]
    check("date", literals, pa.array(raw, pa.int32()).view(pa.date32()))
    duckdb_style = [2**31 - 1, -(2**31 - 1), 18262]
    check("date", literals, pa.array(duckdb_style, pa.int32()).view(pa.date32()))


def test_date64(check: Check) -> None:
    values = [dt.date(2024, 2, 29), dt.date(1969, 7, 20), None]
    literals = [None if v is None else f"'{v}'" for v in values]
    check("date", literals, pa.array(values, pa.date64()))


TIMES = [
    "'00:00:00'",
    "'13:14:15.5'",
    "'23:59:59.999999'",
    "'12:00:00.000001'",
    "'01:02:03.12'",
    "'24:00:00'",
    None,
]


def test_time(check: Check, pg: PgOracle) -> None:
    cells = pg.cells(pg.values("time", TIMES), binary=True).column()
    micros = [None if c is None else int.from_bytes(c, "big") for c in cells]
    check("time", TIMES, pa.array(micros, pa.time64("us")))
    nanos = [None if m is None else m * 1000 for m in micros]
    check("time", TIMES, pa.array(nanos, pa.time64("ns")))


def test_time32(check: Check) -> None:
    check("time", ["'01:02:03'", "'23:00:00'"], pa.array([3723, 82800], pa.time32("s")))
    check("time", ["'01:02:03.25'"], pa.array([3723250], pa.time32("ms")))


TIMESTAMPS = [
    "'2024-02-29 13:14:15.5'",
    "'2000-01-01 00:00:00'",
    "'1999-12-31 23:59:59.999999'",
    "'1970-01-01 00:00:00.000001'",
    "'1900-01-01 12:00:00.10'",
    "'0001-01-01 00:00:00'",
    "'0044-03-15 12:00:00 BC'",
    "'4713-11-24 00:00:00 BC'",
    "'9999-12-31 23:59:59'",
    "'12345-06-07 01:02:03.000001'",
    "'200000-12-31 23:59:59.999999'",
    "'2262-04-11 23:47:16.854775'",
    None,
]


def test_timestamp(check: Check, pg: PgOracle) -> None:
    micros = _micros_from_pg(pg, pg.values("timestamp", TIMESTAMPS))
    check("timestamp", TIMESTAMPS, pa.array(micros, pa.timestamp("us")))


@pytest.mark.parametrize("unit", ["s", "ms", "ns"])
def test_timestamp_units(check: Check, unit: str) -> None:
    literals = ["'2024-02-29 13:14:15'", "'1960-05-06 07:08:09'", None]
    epoch = dt.datetime(1970, 1, 1)
    moments = [dt.datetime(2024, 2, 29, 13, 14, 15), dt.datetime(1960, 5, 6, 7, 8, 9)]
    seconds = [int((m - epoch).total_seconds()) for m in moments] + [None]
    factor = {"s": 1, "ms": 1000, "ns": 10**9}[unit]
    values = [None if s is None else s * factor for s in seconds]
    check("timestamp", literals, pa.array(values, pa.timestamp(unit)))


def test_timestamp_infinity(check: Check) -> None:
    literals = ["'infinity'", "'-infinity'", "'2020-01-01 00:00:00'"]
    values = [2**63 - 1, -(2**63 - 1), 1577836800000000]
    check("timestamp", literals, pa.array(values, pa.timestamp("us")))
    check("timestamptz", literals, pa.array(values, pa.timestamp("us", tz="UTC")))


def test_timestamp_random(check: Check, pg: PgOracle) -> None:
    rng = np.random.default_rng(3)
    micros = rng.integers(-(10**17), 10**17, 500)
    micros[::3] = micros[::3] // 1_000_000 * 1_000_000
    micros[1::7] = micros[1::7] // 1000 * 1000
    values = pa.array(micros, pa.timestamp("us"))
    literals = [f"'epoch'::timestamp + '{m} microseconds'::interval" for m in micros]
    sql_type = "timestamp"
    check(sql_type, [f"({lit})" for lit in literals], values)


@pytest.mark.parametrize(
    "zone", ["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Europe/Amsterdam"]
)
def test_timestamptz_zones(check: Check, pg: PgOracle, zone: str) -> None:
    literals = [
        "'2024-02-29 13:14:15.5+00'",
        "'2024-07-01 12:00:00+00'",
        "'1800-01-01 00:00:00+00'",
        "'1937-06-30 23:59:59+00'",
        "'2000-01-01 00:00:00.000001+00'",
        "'0044-03-15 12:00:00+00 BC'",
        "'2038-01-19 03:14:08+00'",
        None,
    ]
    micros = _micros_from_pg(pg, pg.values("timestamptz", literals))
    check("timestamptz", literals, pa.array(micros, pa.timestamp("us", tz="UTC")), timezone=zone)
    arrow_zone = pa.array(micros, pa.timestamp("us", tz="Europe/Paris"))
    check("timestamptz", literals, arrow_zone, timezone=zone, formats=(0,))


def test_timestamptz_from_duckdb(check: Check) -> None:
    table = duckdb.sql(
        "SELECT TIMESTAMPTZ '2024-02-29 13:14:15.5+00' AS v UNION ALL SELECT NULL"
    ).to_arrow_table()
    check("timestamptz", ["'2024-02-29 13:14:15.5+00'", None], table.column(0))


INTERVALS = [
    ("1 year 2 mons 3 days 04:05:06.5", 14, 3, 14_706_500_000),
    ("-00:00:01", 0, 0, -1_000_000),
    ("00:00:00", 0, 0, 0),
    ("-1 days +02:00:00", 0, -1, 7_200_000_000),
    ("1 day -02:00:00", 0, 1, -7_200_000_000),
    ("-1 years -2 mons", -14, 0, 0),
    ("-10 mons", -10, 0, 0),
    ("100:00:00", 0, 0, 360_000_000_000),
    ("1 mon -1 days", 1, -1, 0),
    ("-1 mons -1 days -01:00:00", -1, -1, -3_600_000_000),
    ("1 year -3 days", 12, -3, 0),
    ("1 mon", 1, 0, 0),
    ("1 day", 0, 1, 0),
    ("2 years 1 day 00:00:00.000001", 24, 1, 1),
    ("-1 days -00:00:00.5", 0, -1, -500_000),
    ("178000000 years", 2_136_000_000, 0, 0),
    ("2562047788:00:54.775807", 0, 0, 2**63 - 1),
]


def test_interval(check: Check) -> None:
    cases = [case for case in INTERVALS if abs(case[3]) < 2**63 // 1000]
    literals = [f"'{text}'" for text, *_ in cases] + [None]
    values = [pa.MonthDayNano([m, d, us * 1000]) for _, m, d, us in cases]
    check("interval", literals, pa.array([*values, None], pa.month_day_nano_interval()))


def test_interval_extreme_micros(check: Check) -> None:
    literals = ["'2562047788:00:54.775807'", "'-2562047788:00:54.775807'"]
    check("interval", literals, pa.array([2**63 - 1, -(2**63 - 1)], pa.duration("us")))


def test_duration(check: Check) -> None:
    literals = ["'100:00:00'", "'-00:00:01.5'", "'00:00:00'", None]
    values = [360_000_000_000, -1_500_000, 0, None]
    check("interval", literals, pa.array(values, pa.duration("us")))
    seconds = [360_000, -2, 0, None]
    check(
        "interval",
        ["'100:00:00'", "'-00:00:02'", "'00:00:00'", None],
        pa.array(seconds, pa.duration("s")),
    )


def test_interval_from_duckdb(check: Check) -> None:
    table = duckdb.sql(
        "SELECT INTERVAL '1 year 2 months 3 days 04:05:06.789' AS v UNION ALL "
        "SELECT INTERVAL '-36 hours' UNION ALL SELECT NULL"
    ).to_arrow_table()
    literals = ["'1 year 2 mons 3 days 04:05:06.789'", "'-36:00:00'", None]
    check("interval", literals, table.column(0))


COMMON_STAMPS = [
    "'2024-02-29 13:14:15.5'",
    "'2000-01-01 00:00:00.000001'",
    "'1999-12-31 23:59:59'",
    "'0001-01-01 00:00:00.1'",
    "'9999-12-31 23:59:59.999999'",
    "'1970-01-01 00:00:00'",
    "'2021-03-14 07:30:00.12'",
    "'2021-11-07 05:59:59.999'",
    None,
]


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Europe/Amsterdam", "Asia/Kolkata"])
@pytest.mark.parametrize("modern", [False, True])
def test_common_timestamps(check: Check, pg: PgOracle, zone: str, modern: bool) -> None:
    """Years 1..9999 only: the word-assembly fast path (whole-hour offsets) and its fallback
    (local mean time offsets of the year 1 row, Kolkata's half hour)."""
    stamps = [s for s in COMMON_STAMPS if not (modern and s and s.startswith("'0001"))]
    micros = _micros_from_pg(pg, pg.values("timestamp", stamps))
    check("timestamp", stamps, pa.array(micros, pa.timestamp("us")))
    literals = [None if s is None else s[:-1] + "+00'" for s in stamps]
    check("timestamptz", literals, pa.array(micros, pa.timestamp("us", tz="UTC")), timezone=zone)


def test_common_dates_and_times(check: Check, pg: PgOracle) -> None:
    dates = ["'2024-02-29'", "'0001-01-01'", "'9999-12-31'", "'1969-12-31'", None]
    check("date", dates, pa.array(_days_from_pg(pg, pg.values("date", dates)), pa.date32()))
    rng = np.random.default_rng(5)
    micros = rng.integers(0, 86_400_000_001, 300)
    micros[::4] = micros[::4] // 1000 * 1000
    literals = [f"('00:00'::time + '{m} microseconds'::interval)" for m in micros]
    check("time", literals, pa.array(micros, pa.time64("us")))
