"""Every TimeZone-dependent operation on ``timestamptz`` computed by DuckDB (the local engine of
table-less statements, the local part of a federated join, a DuckDB source, cached or not)
answers what PostgreSQL answers in the session's TimeZone: literal input without an offset,
casts to text/date/timestamp/time, date_trunc, extract/date_part, to_char, age, interval
arithmetic across daylight-saving changes, generate_series, AT TIME ZONE and comparisons with
offset-less text, for IANA zones, hours east of UTC and POSIX specs (whose sign is inverted).
Text and binary results are compared byte for byte with the real server's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.conftest import (
    PASSWORDS,
    VeilServer,
    postgres_connection,
    scratch_database,
    start_server,
    stop_server,
)
from veil.proxy.auth import make_scram_verifier

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "+05:30", "UTC+3", "-2")
MOMENTS = (
    "2020-03-29 00:30:00+00",  # Berlin: 01:30 CET, before the spring change
    "2020-03-29 01:30:00+00",  # Berlin: 03:30 CEST, after it
    "2020-11-01 05:30:00+00",  # New York: 01:30 EDT, the hour repeated in autumn
    "2020-03-08 06:59:59.5+00",  # New York: just before the spring change
    "2019-12-31 23:00:00+00",  # another day, month and year east of UTC
)
# {x}: a timestamptz; every one depends on the session's TimeZone.
OPERATIONS = (
    "{x}",
    "{x}::text",
    "{x}::date",
    "{x}::timestamp",
    "{x}::time",
    "date_trunc('day', {x})",
    "date_trunc('hour', {x})",
    "date_trunc('month', {x})",
    "date_trunc('minute', {x})",
    "date_trunc('day', {x}, 'Asia/Kolkata')",
    "extract(hour from {x})::int",  # (the casts: extract's and date_part's result types are another matter)
    "date_part('day', {x})::int",
    "extract(dow from {x})::int",
    "to_char({x}, 'YYYY-MM-DD HH24:MI:SS')",
    "{x} + interval '1 day'",
    "{x} - interval '1 day'",
    "{x} + interval '1 month'",
    "age({x}, timestamptz '2020-01-01 00:00')",
    "{x} AT TIME ZONE 'America/New_York'",
    "{x} AT TIME ZONE 'UTC+3'",  # POSIX: three hours behind UTC
    "({x}::timestamp) AT TIME ZONE '+05:30'",
    "date_trunc('day', {x}, 'UTC+3')",
    "to_char({x}, 'YYYY-MM-DD HH24:MI OF')",
    "{x} = '2020-03-29 03:30'",
    "{x} < '2020-03-29 03:00'",
    "({x}::timestamp)::timestamptz",
)
# Constants the local engine computes (no table).
CONSTANTS = (
    "SELECT '2020-03-29 01:30'::timestamptz, '2020-01-01'::timestamptz::text",
    "SELECT '2020-06-01 12:00'::timestamptz::date, '2020-03-29'::date::timestamptz",
    "SELECT timestamptz '2020-11-01 01:30', '2020-06-01 12:00'::timestamp AT TIME ZONE 'UTC'",
    "SELECT g FROM generate_series('2020-03-28 00:00'::timestamptz, '2020-03-31 00:00', interval '1 day') AS g",
    "SELECT g FROM generate_series('2020-10-31 12:00'::timestamptz, '2020-11-02 12:00', interval '12 hours') AS g",
)
TABLE_SQL = (
    "CREATE SCHEMA tz; CREATE TABLE tz.events (id INTEGER, x TIMESTAMPTZ);"
    "CREATE SCHEMA tzb; CREATE TABLE tzb.marks (id INTEGER, label TEXT);"
)
ROWS = ", ".join(f"({i}, '{moment}')" for i, moment in enumerate(MOMENTS, 1))
MARKS = ", ".join(f"({i}, 'm{i}')" for i in range(1, len(MOMENTS) + 1))
# Where each statement runs: the events table on a DuckDB source (cached, then not) and joined
# with a table of another connection (a federated statement: DuckDB computes the local part).
PLACES = {
    "local": "SELECT v.id, {op} FROM (VALUES "
    + ", ".join(f"({i}, '{moment}'::timestamptz)" for i, moment in enumerate(MOMENTS, 1))
    + ") AS v(id, x) ORDER BY v.id",
    "cached": "SELECT id, {op} FROM tz.events ORDER BY id",
    "uncached": "SELECT id, {op} FROM tzc.events ORDER BY id",
    "federated": "SELECT e.id, m.label, {op} FROM tz.events AS e JOIN tzb.marks AS m ON m.id = e.id ORDER BY e.id",
    # a PostgreSQL source's cached result (read as Arrow): computed by PostgreSQL in the session's zone
    "postgres": "SELECT id, {op} FROM tzp.events ORDER BY id",
}

Outcome = tuple[tuple[int, ...], tuple[tuple[bytes | None, ...], ...]] | str


@dataclass(frozen=True)
class Deployment:
    server: VeilServer
    oracle: str


def _duckdb_file(path: Path, sql: str) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(sql)
        connection.execute("CHECKPOINT")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, postgres_dsn: str) -> Iterator[Deployment]:
    directory = tmp_path_factory.mktemp("tz")
    oracle = scratch_database(postgres_dsn, "veil_session_tz")
    with psycopg.connect(oracle, autocommit=True) as connection:
        for schema in ("tzc", "tzp"):
            connection.execute(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.events (id INTEGER, x TIMESTAMPTZ)")
            connection.execute(f"INSERT INTO {schema}.events VALUES {ROWS}")
        connection.execute(TABLE_SQL + f"INSERT INTO tz.events VALUES {ROWS}; INSERT INTO tzb.marks VALUES {MARKS}")
    _duckdb_file(
        directory / "a.duckdb",
        f"CREATE SCHEMA tz; CREATE TABLE tz.events (id INTEGER, x TIMESTAMPTZ);INSERT INTO tz.events VALUES {ROWS}",
    )
    _duckdb_file(
        directory / "b.duckdb",
        f"CREATE SCHEMA tzb; CREATE TABLE tzb.marks (id INTEGER, label VARCHAR);INSERT INTO tzb.marks VALUES {MARKS}",
    )
    _duckdb_file(
        directory / "c.duckdb",
        f"CREATE SCHEMA tzc; CREATE TABLE tzc.events (id INTEGER, x TIMESTAMPTZ);INSERT INTO tzc.events VALUES {ROWS}",
    )
    config = {
        "server": {"host": "127.0.0.1", "port": 0},
        "connections": {
            "a": {"type": "duckdb", "path": str(directory / "a.duckdb")},  # cached (default latency)
            "b": {"type": "duckdb", "path": str(directory / "b.duckdb")},
            "c": {"type": "duckdb", "path": str(directory / "c.duckdb"), "latency": 0},
            "p": postgres_connection(oracle, population={"schemas": ["tzp"]}),  # cached: the Arrow path
        },
        "users": {"alice": {"password": make_scram_verifier(PASSWORDS["alice"])}},
        "policies": [{"name": "All", "subscription": {"tables": ["*"], "allow": {"users": ["alice"]}}}],
    }
    process, server = start_server(directory, config)
    try:
        yield Deployment(server, oracle)
    finally:
        stop_server(process)


def _outcome(pgconn: psycopg.pq.PGconn, sql: str, result_format: int) -> Outcome:
    result = pgconn.exec_params(sql.encode(), [], result_format=result_format)
    assert result is not None
    if result.status != psycopg.pq.ExecStatus.TUPLES_OK:
        return f"ERROR {result.error_field(psycopg.pq.DiagnosticField.SQLSTATE)!r}"
    oids = tuple(result.ftype(i) for i in range(result.nfields))
    rows = tuple(tuple(result.get_value(r, c) for c in range(result.nfields)) for r in range(result.ntuples))
    return oids, rows


def _run(dsn: str, zone: str, statements: dict[str, str]) -> dict[str, Outcome]:
    """Each statement's outcome (type OIDs and raw values, or SQLSTATE), in text and binary."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f"SET TimeZone = {zone if zone.lstrip('-').isdigit() else repr(zone)}")
        return {
            f"{('text', 'binary')[fmt]} {name}": _outcome(connection.pgconn, sql, fmt)
            for name, sql in statements.items()
            for fmt in (0, 1)
        }


def _differences(deployment: Deployment, zone: str, statements: dict[str, str]) -> dict[str, tuple[Outcome, Outcome]]:
    expected = _run(deployment.oracle, zone, statements)
    got = _run(deployment.server.dsn(), zone, statements)
    assert not [k for k, v in expected.items() if isinstance(v, str)], "PostgreSQL refused a statement of the matrix"
    return {key: (expected[key], got[key]) for key in expected if expected[key] != got[key]}


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("place", PLACES)
def test_timestamptz_operations_follow_the_session_timezone(deployment: Deployment, place: str, zone: str) -> None:
    statements = {op: PLACES[place].format(op=op.format(x="x")) for op in OPERATIONS}
    assert _differences(deployment, zone, statements) == {}


@pytest.mark.parametrize("zone", ZONES)
def test_timestamptz_constants_follow_the_session_timezone(deployment: Deployment, zone: str) -> None:
    assert _differences(deployment, zone, {sql: sql for sql in CONSTANTS}) == {}


@pytest.mark.parametrize("place", ["local", "cached", "federated"])
def test_a_zone_abbreviation_duckdb_cannot_print_is_refused(deployment: Deployment, place: str) -> None:
    """to_char's TZ is the zone's abbreviation (CEST); DuckDB would print its name instead."""
    with psycopg.connect(deployment.server.dsn(), autocommit=True) as connection:
        connection.execute("SET TimeZone = 'Europe/Berlin'")
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            connection.execute(PLACES[place].format(op="to_char(x, 'HH24:MI TZ')"))


def test_each_zone_prints_differently(deployment: Deployment) -> None:
    """The matrix is not vacuous: PostgreSQL's text differs between every two zones."""
    texts = {zone: _run(deployment.oracle, zone, {"first": CONSTANTS[0]}) for zone in ZONES}
    assert len({str(outcome) for outcome in texts.values()}) == len(ZONES)


@pytest.mark.parametrize("spelling", ["'+05:30'", "'UTC+3'", "'<+0330>-03:30'", "-2", "5.5", "'5.5'", "'Asia/Kolkata'"])
def test_timezone_spellings_show_and_compute_as_postgresql(deployment: Deployment, spelling: str) -> None:
    def run(dsn: str) -> list[tuple[object, ...]]:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f"SET TimeZone = {spelling}")
            shown = connection.execute("SHOW TimeZone").fetchall()
            text = connection.execute(
                "SELECT '2020-07-01 12:00+00'::timestamptz::text, x::text FROM tz.events WHERE id = 1"
            )
            return [*shown, *text.fetchall()]

    assert run(deployment.server.dsn()) == run(deployment.oracle)


def test_a_timezone_with_daylight_saving_rules_is_refused_not_misread(deployment: Deployment) -> None:
    """A POSIX spec with daylight-saving rules is no zone Veil's engines know: refused (22023)."""
    with psycopg.connect(deployment.server.dsn(), autocommit=True) as connection:
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            connection.execute("SET TimeZone = 'UTC+3DST'")
        assert connection.execute("SHOW TimeZone").fetchone() == ("UTC",)


def _cached_executions(dsn: str) -> list[tuple[object, ...]]:
    """One prepared statement on a cached DuckDB table executed again and again (the later
    executions take the fast cache-hit path), then under other zones, then back."""
    seen: list[tuple[object, ...]] = []
    with psycopg.connect(dsn, autocommit=True) as connection:
        pgconn = connection.pgconn
        sql = b"SELECT x::text, x::date, date_trunc('day', x), x FROM tz.events WHERE id = $1"
        assert pgconn.prepare(b"cached", sql).status == psycopg.pq.ExecStatus.COMMAND_OK
        for zone in ("UTC", "UTC", "UTC", "Asia/Kolkata", "Asia/Kolkata", "America/New_York", "UTC"):
            connection.execute(f"SET TimeZone = '{zone}'")
            for fmt in (0, 1):
                result = pgconn.exec_prepared(b"cached", [b"2"], result_format=fmt)
                assert result.status == psycopg.pq.ExecStatus.TUPLES_OK, pgconn.error_message
                seen.append(tuple(result.get_value(0, c) for c in range(result.nfields)))
    return seen


def test_cached_results_are_not_served_across_timezones(deployment: Deployment) -> None:
    """A cached DuckDB source's result depends on the zone it was computed in: another zone's
    session gets its own (the fast cache-hit path of a prepared statement too)."""
    expected = _cached_executions(deployment.oracle)
    assert len(set(expected)) == 6  # three zones, two formats
    assert _cached_executions(deployment.server.dsn()) == expected
