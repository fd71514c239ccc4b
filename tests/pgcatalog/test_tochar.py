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
    '"Quarter "Q', "FMDay FMDY", '"',
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


def _answers(veil: psycopg.Connection, calls: list[str], suffix: str) -> list[tuple[str, str | None]]:
    """Veil's answer to each call: all in one statement when Veil answers it, else one by one."""
    try:
        row = veil.execute(f"SELECT {', '.join(calls)}{suffix}").fetchone()
    except psycopg.Error:
        return [_answer(veil, f"SELECT {call}{suffix}") for call in calls]
    assert row is not None
    return [("value", value) for value in row]


@pytest.fixture(scope="module")
def connections(postgres_dsn: str, veil_server: VeilServer) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    with psycopg.connect(postgres_dsn, autocommit=True) as postgres, psycopg.connect(
        veil_server.dsn(), autocommit=True
    ) as veil:
        yield postgres, veil


def _compare(
    connections: tuple[psycopg.Connection, psycopg.Connection],
    values: list[str],
    templates: list[str],
    suffix: str,
    zone: str = "UTC",
) -> tuple[int, list[str]]:
    """(calls Veil printed as PostgreSQL did, calls Veil refused); asserts nothing else happened:
    where PostgreSQL fails, Veil fails too."""
    postgres, veil = connections
    for conn in connections:
        conn.execute(f"SET TimeZone = '{zone}'")
    same, refused, wrong = 0, [], []
    for value in values:
        calls = [f"to_char({value}, '" + template.replace("'", "''") + "')" for template in templates]
        expected = [_answer(postgres, f"SELECT {call}") for call in calls]
        answered = [call for call, answer in zip(calls, expected, strict=True) if answer[0] == "value"]
        got = dict(zip(answered, _answers(veil, answered, suffix), strict=True))
        for call, answer in zip(calls, expected, strict=True):
            result = got.get(call) or _answer(veil, f"SELECT {call}{suffix}")
            if answer[0] == "error":
                if result[0] != "error":
                    wrong.append((call, answer, result))
            elif result == answer:
                same += 1
            elif result == ("error", "0A000"):
                refused.append(call)
            else:
                wrong.append((call, answer, result))
    assert wrong == []
    return same, refused


TIMESTAMPS = [v for v in VALUES if "interval" not in v]
INTERVALS = [v for v in VALUES if "interval" in v]
ZONE_TEMPLATES = ["TZ", "OF", "TZH:TZM", "tz"]
OFFSET_TEMPLATES = ["FMTZH|FMTZM", "HH24:MI OF", "tzh tzm"]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
def test_local_engine_prints_postgres_templates(
    connections: tuple[psycopg.Connection, psycopg.Connection], zone: str
) -> None:
    same, refused = _compare(connections, TIMESTAMPS, TEMPLATES, "", zone)
    assert (same, refused) == (len(TIMESTAMPS) * len(TEMPLATES), [])


def test_local_engine_prints_postgres_interval_templates(
    connections: tuple[psycopg.Connection, psycopg.Connection],
) -> None:
    """An interval's ISO, Julian and Roman numeral patterns are refused (PostgreSQL rejects names)."""
    same, refused = _compare(connections, INTERVALS, TEMPLATES, "")
    assert same > 200
    assert all(any(p in call for p in ("I", "J", "RM", "rm", "with")) for call in refused), refused


def test_duckdb_source_prints_postgres_templates(connections: tuple[psycopg.Connection, psycopg.Connection]) -> None:
    suffix = " FROM sales.customers LIMIT 1"
    assert _compare(connections, TIMESTAMPS, TEMPLATES, suffix)[1] == []
    # DuckDB source cursors compute in the session's TimeZone too
    zoned = [v for v in TIMESTAMPS if "timestamptz" in v]
    assert _compare(connections, zoned, TEMPLATES[:5], suffix, "Asia/Kolkata") == (len(zoned) * 5, [])


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/St_Johns", "UTC+3"])
def test_time_zone_offsets_are_printed_in_the_session_timezone(
    connections: tuple[psycopg.Connection, psycopg.Connection], zone: str
) -> None:
    """OF, TZH and TZM print a timestamptz's offset in the session's TimeZone, a timestamp's as zero;
    TZ (the zone's abbreviation, unknown to DuckDB) is refused for a timestamptz, empty for a timestamp."""
    plain = [v for v in TIMESTAMPS if "timestamptz" not in v and "date" not in v]
    zoned = [v for v in TIMESTAMPS if "timestamptz" in v]
    assert _compare(connections, plain + zoned, ZONE_TEMPLATES[1:3] + OFFSET_TEMPLATES, "", zone) == (
        len(plain + zoned) * (2 + len(OFFSET_TEMPLATES)),
        [],
    )
    assert _compare(connections, plain, ["TZ", "tz"], "", zone) == (len(plain) * 2, [])
    same, refused = _compare(connections, zoned, ["TZ", "tz"], "", zone)
    assert (same, len(refused)) == (0, len(zoned) * 2)


NUMBER_TEMPLATES = [
    "999", "9999D99", "FM9990.00", "999,999", "9,999.99", "S999", "999S", "999MI", "999PR", "FM999PR", "MI999",
    "PL999", "SG999", "999PL", "0000", "0999", "9990", "FM0000", "FM9999", "FM9.99", "9.99", "0.99", "FM0.99",
    "99.9", "FM99.9", "FM999.999", "99", "9", "S9,999.00", "FMS999", '"USD" 999.99', "x999y", "FM9,999,999",
    "00.00", "FM00.00", "S0.00", "9G999D99", "FMSG999", "999.99MI", "FM999MI",
]
NUMBERS = [
    "-12", "0", "1234.5", "-0.5", "12.345", "999.995", "-0.004", "1234567", "-12::int4", "0::int8", "123456::int8",
    "0.05", "12.5::numeric(10,3)",
]


@pytest.mark.parametrize("suffix", ["", " FROM sales.customers LIMIT 1"])
def test_number_templates(connections: tuple[psycopg.Connection, psycopg.Connection], suffix: str) -> None:
    templates = NUMBER_TEMPLATES if not suffix else NUMBER_TEMPLATES[::4]
    same, refused = _compare(connections, NUMBERS, templates, suffix)
    assert (same, refused) == (len(NUMBERS) * len(templates), [])


@pytest.mark.parametrize("call", ["to_char(2.5::float8, '9.9')", "to_char(12, '9.99EEEE')", "to_char(12, 'RN')",
                                  "to_char(12, '999 abc')", "to_char(2.5 * 2, '9.9')"])
def test_number_templates_veil_does_not_print_are_refused(
    connections: tuple[psycopg.Connection, psycopg.Connection], call: str
) -> None:
    """PostgreSQL answers; Veil refuses (a float's digits are cut at 15 significant ones, a
    computed numeric may be a DuckDB double, B/EEEE/RN are not printed)."""
    postgres, veil = connections
    assert _answer(postgres, f"SELECT {call}")[0] == "value"
    assert _answer(veil, f"SELECT {call}") == ("error", "0A000")


def test_templates_that_are_not_constants_are_refused(veil_server: VeilServer) -> None:
    with psycopg.connect(veil_server.dsn(), autocommit=True) as veil:
        for suffix in ("", " FROM sales.customers LIMIT 1"):
            with pytest.raises(psycopg.errors.FeatureNotSupported):
                veil.execute("SELECT to_char(now(), (SELECT 'YYYY'))" + suffix).fetchall()
            assert veil.execute("SELECT to_char(now(), NULL)" + suffix).fetchall() == [(None,)]
