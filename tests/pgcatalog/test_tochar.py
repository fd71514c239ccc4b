"""``to_char`` with PostgreSQL's template language, differentially: every template of
:data:`TEMPLATES` (each pattern, its ``FM``/``TH``/``th``/``SP`` forms, letters that are not
patterns, quoted text, backslashes) with every value of :data:`VALUES`, sent to PostgreSQL and to
Veil (the local engine, and a DuckDB source). Veil must print PostgreSQL's string, or refuse the
call with 0A000 where PostgreSQL answers (never another string), and fail where PostgreSQL fails."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import VeilServer

TEMPLATES = [
    "abc", "YYYY-MM-DD HH24:MI:SS", 'YYYY-MM-DD"T"HH24:MI:SS.US', "Day, DD Month YYYY",
    "FMDay, FMDD FMMonth YYYY", 'DDth "of" Month', "FMDDth", "DDTH", "HH12:MI AM", "hh12:mi a.m.",
    "Y,YYY YYY YY Y", "IYYY-IW-ID", "IYY IY I", "IDDD DDD", "J", "Q", "WW W", "CC cc", "RM rm FMRM",
    "MON Mon mon", "DY Dy dy", "MONTH month", "DAY day", "MS US", "FF1 FF2 FF3 FF4 FF5 FF6",
    "FMMS FMUS FMFF3", "SSSS SSSSS", "AD BC A.D. B.C. ad bc a.d. b.c.", "AM PM A.M. P.M. am pm a.m. p.m.",
    '\\"x\\"', '"quoted \\" text"', "x\\y", "FX YYYY", "fx yyyy", "FMHH FMHH12 FMMI FMSS",
    "HH24th MIth SSth", "SPDD DDSP", "TMMonth TMDay tmmonth", "Yes No", "text with spaces", "MMTH MMth",
    "FMYYYY FMIYYY", "YYYYMMDD", "HH:MI:SS.MS", "hh24:mi:ss", "yyyy-mm-dd", "FMDDD FMIW FMWW FMCC",
    "DDDth IWth Jth Qth", "FMRMth", "Monthth", "month day", "HH HH12 HH24", "YYYYth YYth", "DD-MM-YYYY",
    '"Quarter "Q', "FMDay FMDY", '"', "TZ", "OF", "TZH:TZM",
]

VALUES = [
    "'2024-02-03 14:05:06.789123'::timestamp",
    "'1999-12-31 23:59:59'::timestamp",
    "'2021-01-01 00:00:00'::timestamp",
    "'2024-12-30 12:00:00.000001'::timestamp",
    "'0044-03-15 00:30:00'::timestamp",
    "'2024-02-29'::date",
    "'2024-02-03 04:05:06+00'::timestamptz",
    "'2024-07-01 23:30:00+00'::timestamptz",
    "'1 year 2 months 3 days 25:04:05.6'::interval",
    "'-25:04:05.6'::interval",
    "'0'::interval",
    "'100 hours'::interval",
    "'-1 year -2 months -3 days'::interval",
    "'3 days 04:05:06.000007'::interval",
]


def _answer(conn: psycopg.Connection, sql: str) -> tuple[str, str | None]:
    try:
        row = conn.execute(sql).fetchone()
    except psycopg.Error as error:
        return ("error", error.sqlstate)
    assert row is not None
    return ("value", row[0])


@pytest.fixture(scope="module")
def connections(postgres_dsn: str, veil_server: VeilServer) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    with psycopg.connect(postgres_dsn, autocommit=True) as postgres, psycopg.connect(
        veil_server.dsn(), autocommit=True
    ) as veil:
        yield postgres, veil


def _compare(
    postgres: psycopg.Connection, veil: psycopg.Connection, suffix: str, zone: str
) -> tuple[int, list[str]]:
    """(calls Veil printed as PostgreSQL did, calls Veil refused); asserts nothing else happened."""
    for conn in (postgres, veil):
        conn.execute(f"SET TimeZone = '{zone}'")
    same, refused, wrong = 0, [], []
    for value in VALUES:
        for template in TEMPLATES:
            literal = "'" + template.replace("'", "''") + "'"
            sql = f"SELECT to_char({value}, {literal})"
            expected, got = _answer(postgres, sql), _answer(veil, sql + suffix)
            if expected[0] == "error":
                if got[0] != "error":
                    wrong.append((sql, expected, got))
            elif got == expected:
                same += 1
            elif got == ("error", "0A000"):
                refused.append(sql)
            else:
                wrong.append((sql, expected, got))
    assert wrong == []
    return same, refused


def _zone_pattern(sql: str) -> bool:
    return any(pattern in sql for pattern in ("'TZ'", "'OF'", "'TZH:TZM'"))


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
def test_local_engine_prints_postgres_templates(
    connections: tuple[psycopg.Connection, psycopg.Connection], zone: str
) -> None:
    same, refused = _compare(*connections, "", zone)
    assert same > 600
    # Refused: time zone patterns, and an interval's ISO, Julian and Roman numeral patterns.
    assert all(_zone_pattern(sql) or "::interval" in sql for sql in refused), refused
    assert len(refused) < 100


def test_duckdb_source_prints_postgres_templates(connections: tuple[psycopg.Connection, psycopg.Connection]) -> None:
    same, refused = _compare(*connections, " FROM sales.customers LIMIT 1", "UTC")
    assert same > 500
    # ... and timestamptz values (the source's time zone is not the session's).
    assert all(_zone_pattern(sql) or "::interval" in sql or "::timestamptz" in sql for sql in refused)


NUMBER_TEMPLATES = [
    "999", "9999D99", "FM9990.00", "999,999", "9,999.99", "S999", "999S", "999MI", "999PR", "FM999PR", "MI999",
    "PL999", "SG999", "999PL", "0000", "0999", "9990", "FM0000", "FM9999", "FM9.99", "9.99", "0.99", "FM0.99",
    "99.9", "FM99.9", "FM999.999", "99", "9", "S9,999.00", "FMS999", '"USD" 999.99', "x999y", "FM9,999,999",
    "00.00", "FM00.00", "S0.00", "9G999D99", "FMSG999", "999.99MI", "FM999MI", "999 abc", "9.99EEEE", "RN",
]
NUMBERS = [
    "-12", "0", "1234.5", "-0.5", "12.345", "999.995", "-0.004", "1234567", "-12::int4", "0::int8", "123456::int8",
    "0.05", "12.5::numeric(10,3)", "2.5::float8",
]


@pytest.mark.parametrize("suffix", ["", " FROM sales.customers LIMIT 1"])
def test_number_templates(connections: tuple[psycopg.Connection, psycopg.Connection], suffix: str) -> None:
    """Numbers: PostgreSQL's string, or 0A000 for what Veil does not print (``B``, ``EEEE``,
    ``RN``, a float argument)."""
    postgres, veil = connections
    same, refused, wrong = 0, [], []
    for value in NUMBERS:
        for template in NUMBER_TEMPLATES:
            sql = f"SELECT to_char({value}, '{template}')"
            expected, got = _answer(postgres, sql), _answer(veil, sql + suffix)
            if got == expected or (expected[0] == got[0] == "error"):
                same += 1
            elif got == ("error", "0A000"):
                refused.append(sql)
            else:
                wrong.append((sql, expected, got))
    assert wrong == []
    assert same > 450
    assert all(any(p in sql for p in ("abc", "EEEE", "RN", "float8")) for sql in refused), refused


def test_templates_that_are_not_constants_are_refused(veil_server: VeilServer) -> None:
    with psycopg.connect(veil_server.dsn(), autocommit=True) as veil:
        for suffix in ("", " FROM sales.customers LIMIT 1"):
            with pytest.raises(psycopg.errors.FeatureNotSupported):
                veil.execute("SELECT to_char(now(), (SELECT 'YYYY'))" + suffix).fetchall()
            assert veil.execute("SELECT to_char(now(), NULL)" + suffix).fetchall() == [(None,)]
