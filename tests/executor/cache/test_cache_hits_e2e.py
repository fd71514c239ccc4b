"""Latency-cache hits served from their encoded DataRows, end to end (real `veil serve`, real
PostgreSQL): the first hit keeps what it sent, later hits in the same variant (result formats,
time zone, described schema) send those bytes as they are.

What must hold: every hit is byte-identical to the uncached path (text and binary), users whose
policies differ never get each other's rows or raw values, a session in another time zone gets
its own encoding, an expired entry is read again, and hits are audited.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import psycopg
import pytest

from tests.conftest import VeilServer, postgres_connection, scratch_database, start_server, stop_server
from veil.proxy.auth import make_scram_verifier

DATABASE = "veil_cache_hits"
PASSWORD = "pw"
LATENCY = 2.0  # seconds, for hits.t; hits.live is never cached
ROWS = [
    (1, "ada@example.com", "EU", "12.50", 0.1, "2024-03-01 10:00:00+00", True),
    (2, "bob@example.org", "US", "-3.25", 1e300, "2024-07-15 23:30:00.123456+00", False),
    (3, "cy@example.net", "EU", "0.00", -0.0, "1999-12-31 23:59:59+00", None),
]
POINT = "SELECT * FROM hits.{table} WHERE id = $1"
ALL = "SELECT id, email, region FROM hits.t ORDER BY id"


def write_postgres(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE SCHEMA hits")
        for table in ("t", "live"):
            connection.execute(
                f"CREATE TABLE hits.{table} (id int, email text, region text, amount numeric(10,2), "
                "score float8, created timestamptz, flag bool)"
            )
            with connection.cursor() as cursor:
                cursor.executemany(f"INSERT INTO hits.{table} VALUES (%s, %s, %s, %s, %s, %s, %s)", ROWS)


def hits_config(pg: dict[str, object]) -> dict[str, object]:
    user = {"password": make_scram_verifier(PASSWORD)}
    return {
        "server": {"host": "127.0.0.1", "port": 0},
        "connections": {"pg": {"type": "postgres", "latency": LATENCY, **pg}},
        "tables": {"pg.hits.live": {"latency": 0}},
        "users": {
            "exempt": {**user, "groups": ["Readers", "Exempt"], "attributes": {"region": ["EU", "US"]}},
            "masked": {**user, "groups": ["Readers"], "attributes": {"region": ["EU", "US"]}},
            "eu": {**user, "groups": ["Readers", "Exempt"], "attributes": {"region": ["EU"]}},
            "root": {**user, "admin": True, "groups": ["Readers", "Exempt"], "attributes": {"region": ["EU", "US"]}},
        },
        "policies": [
            {"name": "Readers", "subscription": {"tables": ["*"], "allow": {"groups": ["Readers"]}}},
            {
                "name": "Emails",
                "mask": {"columns": ["email"], "with": "email_domain", "except": {"groups": ["Exempt"]}},
            },
            {
                "name": "Own region",
                "row_filter": {
                    "tables": ["pg.hits.t", "pg.hits.live"],
                    "where": "@attributeValuesContains('region', region)",
                },
            },
        ],
    }


@dataclass
class Deployment:
    server: VeilServer
    dsn: str

    def connect(self, user: str, **options: str) -> psycopg.Connection:
        params = self.server.kwargs(user, PASSWORD)
        if options:
            params["options"] = " ".join(f"-c {k}={v}" for k, v in options.items())
        return psycopg.connect(**params, autocommit=True)

    def audit(self, user: str, statement: str) -> list[tuple[bool, int]]:
        with self.connect("root") as connection:
            rows = connection.execute('SELECT "user", statement, cache_hit, rows FROM veil.audit').fetchall()
        return [(hit, count) for who, sql, hit, count in rows if who == user and sql == statement]

    def cache(self) -> dict[str, int]:
        with self.connect("root") as connection:
            cursor = connection.execute("SELECT * FROM veil.cache")
            names = [c.name for c in cursor.description or []]
            return dict(zip(names, cursor.fetchone() or (), strict=True))


@pytest.fixture(scope="module")
def deployment(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    directory = tmp_path_factory.mktemp("cache-hits")
    dsn = scratch_database(postgres_dsn, DATABASE)
    write_postgres(dsn)
    process, server = start_server(directory, hits_config(postgres_connection(dsn)))
    try:
        yield Deployment(server, dsn)
    finally:
        stop_server(process)


def raw_values(connection: psycopg.Connection, sql: str, param: bytes, result_format: int) -> list[list[bytes | None]]:
    """The values of a prepared statement's rows, as the DataRows carried them."""
    pgconn = connection.pgconn
    name = f"s{result_format}{abs(hash(sql))}".encode()
    if pgconn.describe_prepared(name).status != psycopg.pq.ExecStatus.COMMAND_OK:
        assert pgconn.prepare(name, sql.encode()).status == psycopg.pq.ExecStatus.COMMAND_OK
    result = pgconn.exec_prepared(name, [param], result_format=result_format)
    assert result.status == psycopg.pq.ExecStatus.TUPLES_OK, result.error_message
    return [[result.get_value(r, c) for c in range(result.nfields)] for r in range(result.ntuples)]


@pytest.mark.parametrize("result_format", [0, 1], ids=["text", "binary"])
def test_hits_are_byte_identical_to_the_uncached_path(deployment: Deployment, result_format: int) -> None:
    with deployment.connect("exempt") as connection:
        for key in (b"1", b"2", b"3"):
            uncached = raw_values(connection, POINT.format(table="live"), key, result_format)
            served = [raw_values(connection, POINT.format(table="t"), key, result_format) for _ in range(4)]
            assert uncached and all(len(row) == 7 for row in uncached)
            assert served == [uncached] * 4, "miss, first hit (from Arrow), encoded hits"
    with psycopg.connect(deployment.dsn, autocommit=True) as direct:
        expected = raw_values(direct, POINT.format(table="t"), b"2", result_format)
    with deployment.connect("exempt") as connection:
        assert raw_values(connection, POINT.format(table="t"), b"2", result_format) == expected


def test_a_masked_user_never_gets_the_exempt_users_cached_values(deployment: Deployment) -> None:
    sql = "SELECT email FROM hits.t WHERE id = %s"
    for first, second in (("exempt", "masked"), ("masked", "exempt")):
        seen: dict[str, list[object]] = {}
        for user in (first, second, first, second, first, second):  # misses, then hits of each
            with deployment.connect(user) as connection, connection.cursor() as cursor:
                for _ in range(3):
                    seen.setdefault(user, []).append(cursor.execute(sql, (1,), prepare=True).fetchone())
        assert set(seen["exempt"]) == {("ada@example.com",)}
        assert set(seen["masked"]) != {("ada@example.com",)}
        assert ("ada@example.com",) not in seen["masked"], "the raw address must never reach the masked user"
        assert all(row is not None and "ada" not in str(row[0]) for row in seen["masked"])
        time.sleep(LATENCY + 0.2)  # both entries expire before the other order is tried


def test_a_row_filtered_user_never_gets_hidden_rows(deployment: Deployment) -> None:
    for user in ("exempt", "eu", "exempt", "eu", "eu"):
        with deployment.connect(user) as connection, connection.cursor() as cursor:
            rows = [cursor.execute(ALL, prepare=True).fetchall() for _ in range(3)]
            hidden = [
                cursor.execute("SELECT id FROM hits.t WHERE id = %s", (2,), prepare=True).fetchall() for _ in range(3)
            ]
        if user == "eu":
            assert rows == [[(1, "ada@example.com", "EU"), (3, "cy@example.net", "EU")]] * 3
            assert hidden == [[]] * 3, "row 2 (US) is hidden from eu, cached or not"
        else:
            assert [len(r) for r in rows] == [3, 3, 3]
            assert hidden == [[(2,)]] * 3


def test_a_session_in_another_time_zone_gets_its_own_encoding(deployment: Deployment) -> None:
    sql = "SELECT created FROM hits.t WHERE id = $1"
    with deployment.connect("exempt") as utc:
        in_utc = [raw_values(utc, sql, b"2", 0) for _ in range(3)]
    with deployment.connect("exempt", TimeZone="Asia/Tokyo") as tokyo:
        in_tokyo = [raw_values(tokyo, sql, b"2", 0) for _ in range(3)]
    assert in_utc == [[[b"2024-07-15 23:30:00.123456+00"]]] * 3
    assert in_tokyo == [[[b"2024-07-16 08:30:00.123456+09"]]] * 3


def test_hits_are_audited_and_counted_in_the_cache(deployment: Deployment) -> None:
    sql = "SELECT id, region FROM hits.t WHERE id = $1 AND region <> 'none'"
    before = deployment.cache()
    with deployment.connect("exempt") as connection:
        assert raw_values(connection, sql, b"3", 0) == [[b"3", b"EU"]]
        missed = deployment.cache()
        for _ in range(3):
            assert raw_values(connection, sql, b"3", 0) == [[b"3", b"EU"]]
    after = deployment.cache()
    assert after["bytes"] > missed["bytes"], "the DataRows sent by the first hit are kept, and counted"
    assert deployment.audit("exempt", sql) == [(False, 1), (True, 1), (True, 1), (True, 1)]
    assert after["misses"] - before["misses"] == 1 and after["hits"] - before["hits"] == 3
    assert after["entries"] - before["entries"] == 1, "the encoded form is kept with its entry"
    assert after["stores"] - before["stores"] == 1


def test_an_expired_entry_is_read_again(deployment: Deployment) -> None:
    sql = "SELECT amount FROM hits.t WHERE id = $1"
    with deployment.connect("exempt") as connection:
        assert [raw_values(connection, sql, b"1", 0) for _ in range(3)] == [[[b"12.50"]]] * 3
        with psycopg.connect(deployment.dsn, autocommit=True) as direct:
            direct.execute("UPDATE hits.t SET amount = 99.99 WHERE id = 1")
        try:
            assert raw_values(connection, sql, b"1", 0) == [[b"12.50"]], "still fresh: served from cache"
            time.sleep(LATENCY + 0.2)
            assert raw_values(connection, sql, b"1", 0) == [[b"99.99"]]
            assert raw_values(connection, sql, b"1", 0) == [[b"99.99"]]
        finally:
            with psycopg.connect(deployment.dsn, autocommit=True) as direct:
                direct.execute("UPDATE hits.t SET amount = 12.50 WHERE id = 1")


def test_a_hit_read_in_parts_resumes_where_it_stopped(deployment: Deployment) -> None:
    """asyncpg's cursor sends Execute with a row limit: a hit (from Arrow, then from the kept
    DataRows) is split across PortalSuspended exactly as the uncached result is."""

    async def read(table: str) -> list[list[tuple[object, ...]]]:
        server = deployment.server
        connection = await asyncpg.connect(
            host=server.host, port=server.port, user="exempt", password=PASSWORD, database="veil", ssl=False
        )
        try:
            async with connection.transaction():
                cursor = await connection.cursor(f"SELECT id, email, created FROM hits.{table} ORDER BY id")
                return [[tuple(r) for r in await cursor.fetch(n)] for n in (2, 2, 2)]
        finally:
            await connection.close()

    uncached = asyncio.run(read("live"))
    assert [len(part) for part in uncached] == [2, 1, 0]
    assert [asyncio.run(read("t")) for _ in range(4)] == [uncached] * 4
