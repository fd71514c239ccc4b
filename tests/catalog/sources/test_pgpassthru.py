"""Pass-through execution (#13): a statement pushed down whole to a PostgreSQL source whose
connection passes statements through (the default) is answered with PostgreSQL's own DataRow bytes.

Two Veil servers read the type-matrix database: one through the Arrow path (``passthrough``
off), one passing through. Their results must be byte-identical to each other and to
PostgreSQL direct, in text and binary, with a mask and a row filter in force; cancel, timeout,
error SQLSTATEs and pooled-connection reset are checked on the pass-through server. That the
pass-through path really ran is read from the source (``pg_stat_activity`` shows the statement
on a connection named ``veil passthrough``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psycopg
import pytest
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.conninfo import conninfo_to_dict

from tests.catalog.sources.test_postgres_types import (
    BINARY_COLUMNS,
    MATRIX_DDL,
    _asyncpg_params,
    _raw,
)
from tests.catalog.support import ddl, private_database, running
from tests.config.support import alice_and_root, everyone_reads, germany_only, hash_emails
from tests.conftest import (
    VeilServer,
    postgres_connection,
    start_server,
    stop_server,
)
from veil.catalog.sources.postgres import passthrough as pgpassthru
from veil.catalog.sources.postgres import wire as pgwire
from veil.catalog.sources.postgres.passthrough import SessionSettings
from veil.catalog.sources.postgres.source import PostgresSource
from veil.config.models import ConnectionConfig

DATABASE = "veil_pg_passthru"
# Every matrix column whose served type is the source's own (a composite of a domain is served
# as text, so a statement reading it takes the Arrow path).
SHARED = BINARY_COLUMNS + ", tv, tq, rc, dm"
SHARED_TEXT = f"SELECT {SHARED} FROM types.matrix ORDER BY id"
SHARED_BINARY = f"SELECT {BINARY_COLUMNS} FROM types.matrix ORDER BY id"
PEOPLE = "SELECT id, email, country, ip FROM types.people ORDER BY id"
# Runs for minutes on the source (900M pairs), so only a timeout or a cancel ends it.
SLOW = "SELECT count(*) FROM types.big AS a CROSS JOIN types.big AS b WHERE a.n + b.n > 0"


@dataclass
class Servers:
    dsn: str
    arrow: VeilServer
    passthrough: VeilServer


def _config(dsn: str, passthrough: bool) -> dict[str, object]:
    connection = postgres_connection(dsn, population={"schemas": ["types"]}, latency=0, passthrough=passthrough)
    return {
        "server": {"host": "127.0.0.1", "port": 0},
        "secrets": {"hash_key": "passthru-key"},
        "connections": {"pg": connection},
        "tables": {"pg.types.people": {"tags": {"email": ["PII.Email"]}}},
        "users": alice_and_root(groups=["Analytics"]),
        "policies": [everyone_reads(), hash_emails(), germany_only("types.people")],
    }


@pytest.fixture(scope="module")
def servers(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with private_database(postgres_dsn, DATABASE) as dsn:
        ddl(
            dsn,
            *MATRIX_DDL,
            "CREATE TABLE types.people (id int PRIMARY KEY, email text NOT NULL, country char(2), ip inet)",
            "INSERT INTO types.people VALUES (1, 'a@x.org', 'DE', '10.0.0.1'), (2, 'b@y.org', 'FR', '::1'),"
            " (3, 'c@z.org', 'DE', NULL)",
            "CREATE TABLE types.big AS SELECT g AS n FROM generate_series(1, 30000) AS g",
        )
        started = []
        try:
            for passthrough in (False, True):
                directory: Path = tmp_path_factory.mktemp("passthru" if passthrough else "arrow")
                started.append(start_server(directory, _config(dsn, passthrough)))
            yield Servers(dsn, started[0][1], started[1][1])
        finally:
            for process, _ in started:
                stop_server(process)


def _passed_through(dsn: str, fragment: str) -> bool:
    """Whether the source's pass-through connection ran a statement containing ``fragment``."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        queries = connection.execute(
            "SELECT query FROM pg_stat_activity WHERE application_name = 'veil passthrough'"
        ).fetchall()
    return any(fragment in query for (query,) in queries)


@pytest.mark.parametrize(("sql", "fmt"), [(SHARED_TEXT, 0), (SHARED_BINARY, 1)], ids=["text", "binary"])
def test_passthrough_bytes_equal_postgresql_and_the_arrow_path(servers: Servers, sql: str, fmt: int) -> None:
    direct = _raw(servers.dsn, sql, fmt)
    arrow = _raw(servers.arrow.dsn("alice"), sql, fmt)
    passed = _raw(servers.passthrough.dsn("alice"), sql, fmt)
    assert _passed_through(servers.dsn, '"types"."matrix"')
    assert len(passed[1]) == 3
    assert passed == arrow == direct


def test_user_types_fall_back_to_the_arrow_path(servers: Servers) -> None:
    sql = "SELECT id, cb FROM types.matrix ORDER BY id"
    assert _raw(servers.passthrough.dsn("alice"), sql, 0) == _raw(servers.arrow.dsn("alice"), sql, 0)


@pytest.mark.parametrize("fmt", [0, 1], ids=["text", "binary"])
def test_mask_and_row_filter_apply_to_passed_through_rows(servers: Servers, fmt: int) -> None:
    direct_columns, direct_cells = _raw(servers.dsn, PEOPLE, fmt)
    columns, cells = _raw(servers.passthrough.dsn("alice"), PEOPLE, fmt)
    assert _passed_through(servers.dsn, '"types"."people"')
    assert (columns, cells) == _raw(servers.arrow.dsn("alice"), PEOPLE, fmt)
    raw_emails = {row[1] for row in direct_cells}
    assert [row[0] for row in cells] == [row[0] for row in direct_cells if row[2] == b"DE"]
    assert all(row[1] is not None and row[1] not in raw_emails for row in cells)  # never a raw email
    assert columns[1][1] == 25
    # The exempt user reads PostgreSQL's own rows, through the same pooled connections.
    assert _raw(servers.passthrough.dsn("root"), PEOPLE, fmt) == (direct_columns, direct_cells)
    assert _raw(servers.passthrough.dsn("alice"), PEOPLE, fmt) == (columns, cells)


def test_prepared_parameters_and_partial_reads(servers: Servers) -> None:
    sql = "SELECT id, vc, n2 FROM types.matrix WHERE id >= %s ORDER BY id"
    with psycopg.connect(servers.dsn) as direct, psycopg.connect(servers.passthrough.dsn("alice")) as served:
        for binary in (False, True):
            for _ in range(3):  # the third run uses the server-side prepared statement
                want = direct.cursor(binary=binary).execute(sql, (1,), prepare=True).fetchall()
                assert served.cursor(binary=binary).execute(sql, (1,), prepare=True).fetchall() == want


def test_portal_read_in_parts(servers: Servers) -> None:
    """asyncpg's cursor sends Execute with a row limit: the pass-through rows are split across
    PortalSuspended and resumed where they stopped."""
    sql = "SELECT id, vc, ats FROM types.matrix ORDER BY id"

    async def read(dsn: str) -> list[list[tuple[object, ...]]]:
        connection = await asyncpg.connect(**_asyncpg_params(dsn))
        try:
            async with connection.transaction():
                cursor = await connection.cursor(sql)
                return [[tuple(r) for r in await cursor.fetch(n)] for n in (2, 2, 2)]
        finally:
            await connection.close()

    parts = asyncio.run(read(servers.passthrough.dsn("alice")))
    assert [len(p) for p in parts] == [2, 1, 0]
    assert parts == asyncio.run(read(servers.dsn))


def test_portal_read_in_parts_of_a_long_result(servers: Servers) -> None:
    """Row limits that cut runs of rows received from the source anywhere, over many reads."""
    sql = "SELECT n, n::text AS portal_t FROM types.big ORDER BY n"

    async def read(dsn: str) -> list[list[tuple[object, ...]]]:
        connection = await asyncpg.connect(**_asyncpg_params(dsn))
        try:
            async with connection.transaction():
                cursor = await connection.cursor(sql)
                return [[tuple(r) for r in await cursor.fetch(n)] for n in (1, 777, 10_000, 3, 20_000, 5)]
        finally:
            await connection.close()

    parts = asyncio.run(read(servers.passthrough.dsn("alice")))
    assert [len(p) for p in parts] == [1, 777, 10_000, 3, 19_219, 0]
    assert _passed_through(servers.dsn, "portal_t")
    assert parts == asyncio.run(read(servers.dsn))


def test_source_error_keeps_its_sqlstate(servers: Servers) -> None:
    with psycopg.connect(servers.passthrough.dsn("alice"), autocommit=True) as served:
        with pytest.raises(psycopg.errors.DivisionByZero):
            served.execute("SELECT id / (id - 1) FROM types.matrix ORDER BY id").fetchall()
        assert served.execute("SELECT count(*) FROM types.matrix").fetchone() == (3,)


def test_statement_timeout_cancels_the_source_query(servers: Servers) -> None:
    with psycopg.connect(servers.passthrough.dsn("alice"), autocommit=True) as served:
        served.execute("SET statement_timeout = '200ms'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            served.execute(SLOW).fetchall()
        served.execute("SET statement_timeout = 0")
        assert served.execute("SELECT id FROM types.matrix WHERE id = 2").fetchone() == (2,)


def test_cancel_stops_the_source_query(servers: Servers) -> None:
    with psycopg.connect(servers.passthrough.dsn("alice"), autocommit=True) as served:
        seen: list[bool] = []

        def cancel() -> None:
            seen.append(_passed_through(servers.dsn, "CROSS JOIN"))  # running on the pass-through connection
            served.cancel_safe()

        timer = threading.Timer(1.0, cancel)
        timer.start()
        began = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            served.execute(SLOW).fetchall()
        assert time.monotonic() - began < 10
        assert seen == [True]
        assert served.execute("SELECT id FROM types.matrix WHERE id = 3").fetchone() == (3,)
    assert running(servers.dsn, "CROSS JOIN") == 0


def test_timezone_of_each_session_is_applied(servers: Servers) -> None:
    sql = "SELECT tstz, ats FROM types.matrix ORDER BY id"
    for zone in ("Asia/Kolkata", "UTC", "America/New_York"):
        with psycopg.connect(servers.dsn, options=f"-c TimeZone={zone}") as direct:
            want = direct.pgconn.exec_(sql.encode())
            want_cells = [[want.get_value(r, c) for c in range(2)] for r in range(want.ntuples)]
        with psycopg.connect(servers.passthrough.dsn("alice"), autocommit=True) as served:
            served.execute(f"SET TimeZone = '{zone}'")
            got = served.pgconn.exec_(sql.encode())
            assert got.status == pq.ExecStatus.TUPLES_OK
            assert [[got.get_value(r, c) for c in range(2)] for r in range(got.ntuples)] == want_cells


async def _cells(source: PostgresSource, sql: str, user: str) -> bytes:
    """The DataRow messages of ``sql`` run through ``source``'s pass-through cursor."""
    schema = await asyncio.to_thread(source.describe, sql, 0)
    cursor = await source.passthrough_cursor(sql, schema, SessionSettings("UTC", "0", user))
    assert cursor is not None
    try:
        chunks = [await cursor.execute(sql, (), [0] * len(schema))]
        while (chunk := await cursor.next_chunk()) is not None:
            chunks.append(chunk)
        assert cursor.finished
    finally:
        cursor.close()
    return b"".join(chunk[0] for chunk in chunks if chunk is not None)


def _run_then_close(source: PostgresSource, check: Callable[[], Awaitable[None]]) -> None:
    """Run ``check`` on a new event loop and close ``source`` on that loop (its pooled
    pass-through connections belong to it)."""

    async def run() -> None:
        try:
            await check()
        finally:
            source.close()

    asyncio.run(run())


def test_pooled_connection_is_reset_for_another_user(servers: Servers) -> None:
    source = PostgresSource("pg", ConnectionConfig(**postgres_connection(servers.dsn, passthrough=True)))

    async def check() -> None:
        # Veil's allow-list keeps set_config out of pushed statements; the cursor is driven
        # directly here to leave state on the pooled connection on purpose.
        await _cells(source, "SELECT pg_catalog.set_config('work_mem', '1234kB', false) AS s", "mallory")
        setting = "SELECT pg_catalog.current_setting('work_mem') AS w, pg_catalog.pg_backend_pid() AS pid"
        same_user = await _cells(source, setting, "mallory")
        other_user = await _cells(source, setting, "alice")
        assert b"1234kB" in same_user  # one session per user: nothing to reset
        assert b"1234kB" not in other_user  # reset before another user's statement
        assert same_user[-4:] == other_user[-4:]  # the same pooled backend (its pid)
        prepared = await _cells(source, "SELECT count(*) AS n FROM pg_catalog.pg_prepared_statements", "alice")
        assert prepared.endswith(b"3")  # statements stay prepared across the reset

    _run_then_close(source, check)


def test_prepared_statements_are_bounded(servers: Servers, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgpassthru, "MAX_PREPARED", 3)
    source = PostgresSource("pg", ConnectionConfig(**postgres_connection(servers.dsn, passthrough=True)))
    names = "SELECT string_agg(statement, ',' ORDER BY statement) AS s FROM pg_catalog.pg_prepared_statements"

    async def check() -> None:
        for value in (0, 1, 2, 0, 3):  # 0 used again: 1 is then the least recently used
            assert (await _cells(source, f"SELECT {value} AS v", "alice")).endswith(str(value).encode())
        # Each new statement closed the least recently used one: 1, then 2 (for this one).
        prepared = await _cells(source, names, "alice")
        assert b"SELECT 0 AS v" in prepared and b"SELECT 3 AS v" in prepared and b"pg_prepared_statements" in prepared
        assert b"SELECT 1 AS v" not in prepared and b"SELECT 2 AS v" not in prepared

    _run_then_close(source, check)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT id FROM types.matrix WHERE id > 100",  # no rows
        "SELECT n FROM types.big ORDER BY n",  # many socket reads
    ],
    ids=["empty", "chunks"],
)
@pytest.mark.parametrize("fmt", [0, 1], ids=["text", "binary"])
def test_results_of_any_size_pass_through(servers: Servers, sql: str, fmt: int) -> None:
    direct = _raw(servers.dsn, sql, fmt)
    assert _raw(servers.passthrough.dsn("alice"), sql, fmt) == direct
    assert _passed_through(servers.dsn, sql.split(" FROM ")[0])


async def _mixed_rows(dsn: str, sql: str, formats: list[int]) -> bytes:
    """The DataRow messages of ``sql`` read with a result format code per column, through
    Veil's own protocol client (SCRAM against Veil's server, trust against PostgreSQL)."""
    params = conninfo_to_dict(dsn)
    connection = await asyncio.wait_for(pgwire.connect(
        params["host"], int(params["port"]), params["user"], params.get("password"), params["dbname"], "disable", {}
    ), 10)
    try:
        connection.send(
            pgwire.message(b"P", b"\0" + pgwire.cstring(sql) + b"\0\0")
            + pgpassthru.bind(b"", [], formats) + pgwire.message(b"E", b"\0\0\0\0\0") + pgwire.message(b"S")
        )
        rows = []
        while True:
            kind, body = await asyncio.wait_for(connection.message(), 10)
            assert kind != ord("E"), pgwire.wire_error(body)
            if kind == ord("D"):
                rows.append(pgwire.message(b"D", body))
            elif kind == ord("Z"):
                return b"".join(rows)
    finally:
        connection.close()


def test_mixed_result_formats_pass_through(servers: Servers) -> None:
    """Bind may ask for text and binary columns in one result: each is forwarded as asked."""
    sql = "SELECT id, vc, n2, tstz, ai FROM types.matrix ORDER BY id"
    formats = [1, 0, 1, 0, 1]
    direct = asyncio.run(_mixed_rows(servers.dsn, sql, formats))
    assert asyncio.run(_mixed_rows(servers.passthrough.dsn("alice"), sql, formats)) == direct
    assert asyncio.run(_mixed_rows(servers.arrow.dsn("alice"), sql, formats)) == direct
    assert direct.count(b"D") >= 3 and direct != asyncio.run(_mixed_rows(servers.dsn, sql, [0] * 5))


def test_binary_error_keeps_its_sqlstate(servers: Servers) -> None:
    with psycopg.connect(servers.passthrough.dsn("alice"), autocommit=True) as served:
        with pytest.raises(psycopg.errors.DivisionByZero):
            served.cursor(binary=True).execute("SELECT id / (id - 1) FROM types.matrix ORDER BY id").fetchall()
        assert served.cursor(binary=True).execute("SELECT count(*) FROM types.matrix").fetchone() == (3,)


def test_integer_keys_are_bound_as_psycopg_dumps_them() -> None:
    """Bind values of integers take a shortcut past psycopg's dumper: the bytes must stay its bytes
    (and a bool, an int subclass, must still be sent as PostgreSQL's t/f, not as 1/0)."""
    reference = Transformer()
    for values in ([0], [-7, 42], [2**63 - 1, -(2**63)], [10**30], [True, 3], [None, 5], ["x", 1]):
        dumped = reference.dump_sequence(list(values), [PyFormat.TEXT] * len(values))
        assert pgpassthru.text_parameters(values) == [None if d is None else bytes(d) for d in dumped], values
