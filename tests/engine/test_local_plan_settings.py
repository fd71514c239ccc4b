"""A local-engine statement prepared under one session state and run under another: what the
compile step read (TimeZone for a tstzrange's text, current_setting, search_path) is the state
in force when it runs, as in PostgreSQL, in the same session and across sessions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import VeilServer, base_config, start_server, stop_server

RANGE = "SELECT tstzrange('2020-01-01 00:00+00','2020-01-02 00:00+00')"
STATEMENTS = [
    RANGE,
    "SELECT '{[2020-01-01 00:00+00,2020-02-01 00:00+00)}'::tstzmultirange",
    "SELECT current_setting('TimeZone'), current_setting('DateStyle')",
    # Without an offset: PostgreSQL reads a prepared statement's literals when it is prepared,
    # and a text cast when it runs.
    "SELECT tstzrange('2020-01-01 00:00','2020-01-02 00:00'), '[2020-11-01 01:30,2020-11-01 02:30)'::tstzrange",
    "SELECT '{[2020-01-01 00:00,2020-02-01 00:00)}'::tstzmultirange",
    "SELECT '2020-01-01 00:00'::timestamptz, timestamptz '2020-03-08 02:30' + interval '1 day'",
    "SELECT '2020-01-01 00:00'::text::timestamptz, date_trunc('day', timestamptz '2020-01-01 12:00')",
    "SELECT tstzrange('2020-01-01 00:00'::timestamptz, '2020-01-02')",
]
ZONES = ("UTC", "Asia/Tokyo", "America/New_York")


@pytest.fixture(scope="module")
def veil(tmp_path_factory: pytest.TempPathFactory, warehouse: Path) -> Iterator[VeilServer]:
    process, server = start_server(tmp_path_factory.mktemp("localplan"), base_config(warehouse))
    try:
        yield server
    finally:
        stop_server(process)


def _text(pgconn: psycopg.pq.PGconn, result: psycopg.pq.PGresult | None) -> list[str | None]:
    assert result is not None and result.status == psycopg.pq.ExecStatus.TUPLES_OK, pgconn.error_message
    return [None if v is None else v.decode() for v in (result.get_value(0, i) for i in range(result.nfields))]


def _one_session(dsn: str, sql: str) -> list[list[str | None]]:
    """Parse once (protocol and SQL PREPARE), then run under each TimeZone in turn."""
    seen: list[list[str | None]] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        pgconn = conn.pgconn
        conn.execute("SET TimeZone = 'UTC'")
        assert pgconn.prepare(b"p", sql.encode()).status == psycopg.pq.ExecStatus.COMMAND_OK
        conn.execute(f"PREPARE q AS {sql}")
        for zone in ZONES:
            conn.execute(f"SET TimeZone = '{zone}'")
            seen.append(_text(pgconn, pgconn.exec_prepared(b"p", [])))
            seen.append(_text(pgconn, pgconn.exec_params(b"EXECUTE q", [])))
            seen.append(_text(pgconn, pgconn.exec_params(sql.encode(), [])))
    return seen


def _two_sessions(dsn: str, sql: str) -> list[list[str | None]]:
    """The same statement in sessions of different TimeZones, interleaved."""
    seen: list[list[str | None]] = []
    with psycopg.connect(dsn, autocommit=True) as first, psycopg.connect(dsn, autocommit=True) as second:
        first.execute("SET TimeZone = 'UTC'")
        second.execute("SET TimeZone = 'Asia/Tokyo'")
        for _ in range(2):
            for conn in (first, second):
                seen.append([str(v) for v in conn.execute(sql, prepare=True).fetchone() or ()])
                seen.append(_text(conn.pgconn, conn.pgconn.exec_params(sql.encode(), [])))
    return seen


@pytest.mark.parametrize("sql", STATEMENTS)
def test_a_prepared_statement_follows_the_session_timezone(veil: VeilServer, postgres_dsn: str, sql: str) -> None:
    expected = _one_session(postgres_dsn, sql)
    assert len({tuple(row) for row in expected}) >= len(ZONES)  # each zone prints differently
    assert _one_session(veil.dsn(), sql) == expected


@pytest.mark.parametrize("sql", STATEMENTS)
def test_sessions_of_different_timezones_see_their_own(veil: VeilServer, postgres_dsn: str, sql: str) -> None:
    expected = _two_sessions(postgres_dsn, sql)
    assert _two_sessions(veil.dsn(), sql) == expected
    assert expected[0] != expected[2]  # UTC's text is not Tokyo's


def test_a_prepared_statement_follows_the_search_path(veil: VeilServer, postgres_dsn: str) -> None:
    def run(dsn: str) -> list[list[str | None]]:
        with psycopg.connect(dsn, autocommit=True) as conn:
            pgconn = conn.pgconn
            conn.execute("SET search_path = public")
            pgconn.prepare(b"s", b"SELECT current_schemas(false)::text, current_setting('search_path')")
            seen = [_text(pgconn, pgconn.exec_prepared(b"s", []))]
            conn.execute("SET search_path = pg_catalog")
            seen.append(_text(pgconn, pgconn.exec_prepared(b"s", [])))
            return seen

    expected = run(postgres_dsn)
    assert expected[0] != expected[1]
    assert run(veil.dsn()) == expected


def test_a_new_search_path_reads_prepared_literals_again(veil: VeilServer, postgres_dsn: str) -> None:
    """PostgreSQL analyses a prepared statement anew when its search_path changed: its literals
    are then read in the TimeZone of that moment (a new TimeZone alone does not)."""
    sql = "SELECT '2020-01-01 00:00'::timestamptz, tstzrange('2020-01-01 00:00', '2020-01-02 00:00')"

    def run(dsn: str) -> list[list[str | None]]:
        with psycopg.connect(dsn, autocommit=True) as conn:
            pgconn = conn.pgconn
            conn.execute("SET TimeZone = 'UTC'")
            pgconn.prepare(b"p", sql.encode())
            conn.execute(f"PREPARE q AS {sql}")
            seen = []
            for change in (
                "SET TimeZone = 'Asia/Tokyo'",
                "SET search_path = pg_catalog, public",
                "SET TimeZone = 'UTC'",
            ):
                conn.execute(change)
                seen += [
                    _text(pgconn, pgconn.exec_prepared(b"p", [])),
                    _text(pgconn, pgconn.exec_params(b"EXECUTE q", [])),
                ]
            return seen

    expected = run(postgres_dsn)
    assert expected[0] != expected[2]  # read again in Tokyo after the search_path changed
    assert run(veil.dsn()) == expected


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT '2020-01-01'::timestamptz, '2020-01-01 10:00'::timestamptz::text",
        "SELECT date_trunc('day', '2020-01-01 20:00+00'::timestamptz)",
    ],
)
def test_timestamptz_input_and_text_are_in_the_session_timezone(veil: VeilServer, postgres_dsn: str, sql: str) -> None:
    """A literal without an offset is read in the session's TimeZone, and printed in it."""

    def run(dsn: str) -> list[list[str | None]]:
        with psycopg.connect(dsn, autocommit=True) as conn:
            seen = []
            for zone in ZONES:
                conn.execute(f"SET TimeZone = '{zone}'")
                seen.append(_text(conn.pgconn, conn.pgconn.exec_params(sql.encode(), [])))
            return seen

    expected = run(postgres_dsn)
    assert len({tuple(row) for row in expected}) == len(ZONES)
    assert run(veil.dsn()) == expected
