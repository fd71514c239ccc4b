"""Latency-cache hits on the fast path (veil/proxy/fasthit.py): a prepared statement re-executed
with Bind/Describe/Execute/Sync whose cache entry keeps its DataRows is answered from the socket
callback, and answers exactly what the message loop answers.

An in-process Veil over the real engine reads one PostgreSQL database with a latency cache, a
row filter and a hash mask in force (root is exempt from both). Replies are compared byte for
byte with the message loop's reply to the same group and with PostgreSQL direct; what the masked,
row-filtered user must not see is checked in both orders of who fills the cache first; expiry,
row limits, transaction blocks, audit records and cache counters keep their behaviour.
``STATS.served`` tells that the fast path really ran.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.catalog.support import ddl, private_database
from tests.config.support import alice_and_root, everyone_reads, germany_only, hash_emails
from tests.conftest import PASSWORDS, postgres_connection
from tests.proxy import support as raw
from tests.proxy.conftest import ServerThread
from veil.config.models import VeilConfig
from veil.engine.engine import QueryEngine
from veil.proxy.fasthit import STATS

DATABASE = "veil_fasthit"
POINT = "SELECT id, email, country, score FROM shop.people WHERE id = $1"
RANGE = "SELECT id, email, country, score, seen FROM shop.people WHERE id >= $1 ORDER BY id"
FRESH = "SELECT id, value FROM shop.fresh WHERE id = $1"
DUCK_POINT = "SELECT id, email, country, score FROM lake.people WHERE id = $1"
DUCK_RANGE = "SELECT id, email, country, score, seen FROM lake.people WHERE id >= $1 ORDER BY id"
RAW_EMAILS = {b"a@x.org", b"b@y.org", b"c@z.org", b"d@w.org"}
FRESH_LATENCY = 1.0


@dataclass
class Servers:
    dsn: str
    veil: ServerThread

    def veil_dsn(self, user: str) -> str:
        return (
            f"host=127.0.0.1 port={self.veil.port} user={user} password={PASSWORDS[user]} dbname=veil sslmode=disable"
        )

    def clear_cache(self) -> None:
        self.veil.engine.cache.invalidate()


def _duckdb(directory: Path) -> Path:
    """A DuckDB file holding the same people as PostgreSQL's shop.people."""
    path = directory / "people.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE SCHEMA lake")
        connection.execute(
            "CREATE TABLE lake.people (id INTEGER, email VARCHAR, country VARCHAR, score DOUBLE, seen TIMESTAMPTZ)"
        )
        connection.execute(
            "INSERT INTO lake.people VALUES (1, 'a@x.org', 'DE', 1.5, '2024-03-01 10:00:00.25+00'),"
            " (2, 'b@y.org', 'FR', NULL, NULL), (3, 'c@z.org', 'DE', -2, '1999-12-31 23:59:59+00'),"
            " (4, 'd@w.org', 'DE', 1e20, '2024-07-15 23:30:00+00')"
        )
    return path


def _config(dsn: str, directory: Path) -> VeilConfig:
    return VeilConfig.model_validate(
        {
            "server": {"host": "127.0.0.1", "port": 0},
            "audit": {"path": str(directory / "audit.jsonl")},
            "state_dir": str(directory / "state"),
            "secrets": {"hash_key": "fasthit-key"},
            "connections": {
                "pg": postgres_connection(dsn, population={"schemas": ["shop"]}, latency=600),
                "lake": {"type": "duckdb", "path": str(_duckdb(directory)), "latency": 600},
            },
            "tables": {
                "pg.shop.people": {"tags": {"email": ["PII.Email"]}},
                "lake.lake.people": {"tags": {"email": ["PII.Email"]}},
                "pg.shop.fresh": {"latency": FRESH_LATENCY},
            },
            "users": alice_and_root(),
            "policies": [everyone_reads(), hash_emails(), germany_only("shop.people", "lake.people")],
        }
    )


@pytest.fixture(scope="module")
def servers(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with private_database(postgres_dsn, DATABASE) as dsn:
        ddl(
            dsn,
            "CREATE SCHEMA shop",
            "CREATE TABLE shop.people (id int PRIMARY KEY, email text NOT NULL, country char(2), score numeric,"
            " seen timestamptz)",
            "INSERT INTO shop.people VALUES (1, 'a@x.org', 'DE', 1.5, '2024-03-01 10:00:00.25+00'),"
            " (2, 'b@y.org', 'FR', NULL, NULL), (3, 'c@z.org', 'DE', -2, '1999-12-31 23:59:59+00'),"
            " (4, 'd@w.org', 'DE', 1e20, '2024-07-15 23:30:00+00')",
            "CREATE TABLE shop.fresh (id int PRIMARY KEY, value text)",
            "INSERT INTO shop.fresh VALUES (1, 'old')",
        )
        config = _config(dsn, tmp_path_factory.mktemp("fasthit"))
        veil = ServerThread(config, QueryEngine(config)).start()
        try:
            yield Servers(dsn, veil)
        finally:
            veil.stop()
            veil.engine.close()


@pytest.mark.parametrize("formats", [[0], [1], [1, 0, 1, 0, 1]], ids=["text", "binary", "mixed"])
def test_fast_hit_is_the_loop_reply_byte_for_byte(servers: Servers, formats: list[int]) -> None:
    servers.clear_cache()
    groups = [raw.group(b"1", formats) for _ in range(4)] + [raw.group(b"3", formats, describe=False) for _ in range(3)]
    direct = raw.replies(servers.dsn, RANGE, groups, setup="SET TimeZone = 'Asia/Kolkata'")
    served = STATS.served
    replies = raw.replies(servers.veil_dsn("root"), RANGE, groups, setup="SET TimeZone = 'Asia/Kolkata'")
    # miss, hit keeping its DataRows, then fast hits; the same for the second parameter
    assert STATS.served - served == 3
    assert replies[3] == replies[2] == replies[1] == replies[0]
    assert replies[6] == replies[5] == replies[4]
    assert [raw.data_rows(r) for r in replies] == [raw.data_rows(r) for r in direct]
    assert replies[3].startswith(b"2\0\0\0\x04T") and replies[6].startswith(b"2\0\0\0\x04D")
    assert replies[3].endswith(b"Z\0\0\0\x05I")
    # Another time zone is another entry (a PostgreSQL source computes timestamptz in the
    # session's zone, so its results are cached per zone): a miss, a hit the loop encodes, then
    # a fast hit.
    served = STATS.served
    utc = raw.replies(servers.veil_dsn("root"), RANGE, groups[:3], setup="SET TimeZone = 'UTC'")
    assert STATS.served - served == 1
    assert utc[2] == utc[1]
    assert [raw.data_rows(r) for r in utc] == [
        raw.data_rows(r) for r in raw.replies(servers.dsn, RANGE, groups[:3], setup="SET TimeZone = 'UTC'")
    ]
    if formats == [0]:  # timestamptz text is written in the session's time zone
        assert raw.data_rows(utc[0]) != raw.data_rows(replies[0])


@pytest.mark.parametrize("first", ["root", "alice"])
@pytest.mark.parametrize("fmt", [0, 1], ids=["text", "binary"])
@pytest.mark.parametrize("sql", [POINT, DUCK_POINT], ids=["postgres", "duckdb"])
def test_masked_filtered_user_never_gets_exempt_rows(servers: Servers, sql: str, first: str, fmt: int) -> None:
    servers.clear_cache()
    runs = [(b"1", 0), (b"2", 0), (struct.pack("!i", 3), 1), (b"4", 0)] * 3
    groups = [raw.group(value, [fmt], param_format=param_format) for value, param_format in runs]
    direct = [raw.cells(r) for r in raw.replies(servers.dsn, POINT, groups)]
    seen: dict[str, list[list[list[bytes | None]]]] = {}
    for user in (first, "alice" if first == "root" else "root"):
        served = STATS.served
        replies = raw.replies(servers.veil_dsn(user), sql, groups)
        assert STATS.served - served == 4 if user == "alice" else 6  # alice: FR (id 2) has no rows, still a hit
        assert replies[8:] == replies[4:8]  # fast hits: the loop's hits, byte for byte
        seen[user] = [raw.cells(r) for r in replies]
    same_types = sql == POINT  # DuckDB's score is a double: compare id, email and country
    assert [[row if same_types else row[:3] for row in rows] for rows in seen["root"]] == [
        [row if same_types else row[:3] for row in rows] for rows in direct
    ]
    alice = seen["alice"]
    assert [len(rows) for rows in alice] == [1, 0, 1, 1] * 3  # the row filter: id 2 (FR) is not seen
    cells = [row for rows in alice for row in rows]
    assert all(row[1] is not None and row[1] not in RAW_EMAILS for row in cells)  # the mask
    assert {row[0] for row in cells} == {row[0] for rows in direct for row in rows if row[2] == b"DE"}


@pytest.mark.parametrize("formats", [[0], [1]], ids=["text", "binary"])
def test_duckdb_source_fast_hit_is_the_loop_reply(servers: Servers, formats: list[int]) -> None:
    servers.clear_cache()
    groups = [raw.group(b"2", formats) for _ in range(4)] + [raw.group(b"4", formats, describe=False) for _ in range(3)]
    served = STATS.served
    replies = raw.replies(servers.veil_dsn("root"), DUCK_RANGE, groups, setup="SET TimeZone = 'Asia/Kolkata'")
    assert STATS.served - served == 3
    assert replies[3] == replies[2] == replies[1] == replies[0]
    assert replies[6] == replies[5] == replies[4]
    direct = raw.replies(servers.dsn, RANGE, groups, setup="SET TimeZone = 'Asia/Kolkata'")
    assert [[[row[i] for i in (0, 1, 2, 4)] for row in raw.cells(r)] for r in replies] == [
        [[row[i] for i in (0, 1, 2, 4)] for row in raw.cells(r)] for r in direct
    ]


def test_expired_entry_is_read_again(servers: Servers) -> None:
    ddl(servers.dsn, "UPDATE shop.fresh SET value = 'old' WHERE id = 1")
    servers.clear_cache()
    groups = [raw.group(b"1", [0]) for _ in range(3)]
    served = STATS.served
    before = raw.replies(servers.veil_dsn("root"), FRESH, groups)
    assert STATS.served - served == 1
    ddl(servers.dsn, "UPDATE shop.fresh SET value = 'new' WHERE id = 1")
    time.sleep(FRESH_LATENCY + 0.3)
    served = STATS.served
    after = raw.replies(servers.veil_dsn("root"), FRESH, groups)
    assert STATS.served - served == 1  # the expired entry went to the loop, which read it again
    assert [raw.cells(r) for r in before] == [[[b"1", b"old"]]] * 3
    assert [raw.cells(r) for r in after] == [[[b"1", b"new"]]] * 3


def test_replaced_entry_is_never_answered_with_an_earlier_reply(servers: Servers) -> None:
    """On one connection: fast replies of an entry, then the table changes and its entries are
    dropped (as a sync does): the next replies carry the new value, fast again once kept."""
    ddl(servers.dsn, "UPDATE shop.fresh SET value = 'old' WHERE id = 1")
    servers.clear_cache()

    def change() -> None:
        ddl(servers.dsn, "UPDATE shop.fresh SET value = 'new' WHERE id = 1")
        servers.veil.engine.cache.invalidate({"pg.shop.fresh"})

    groups = [raw.group(b"1", [0]) for _ in range(8)]
    served = STATS.served
    replies = raw.replies(servers.veil_dsn("root"), FRESH, groups, before={4: change})
    assert STATS.served - served == 4  # miss, loop hit, fast, fast; the same again after the change
    assert [raw.cells(r) for r in replies] == [[[b"1", b"old"]]] * 4 + [[[b"1", b"new"]]] * 4


def test_row_limit_takes_the_message_loop(servers: Servers) -> None:
    servers.clear_cache()
    groups = [
        raw.group(b"1", [0]), raw.group(b"1", [0]), raw.group(b"1", [0], max_rows=2), raw.group(b"1", [1], max_rows=1)
    ]
    direct = raw.replies(servers.dsn, RANGE, groups)
    served = STATS.served
    replies = raw.replies(servers.veil_dsn("root"), RANGE, groups)
    assert STATS.served == served
    assert [raw.data_rows(r) for r in replies] == [raw.data_rows(r) for r in direct]
    assert len(raw.cells(replies[2])) == 2 and b"s\0\0\0\x04Z" in replies[2]


def test_psycopg_in_and_out_of_a_transaction_block(servers: Servers) -> None:
    servers.clear_cache()
    sql = POINT.replace("$1", "%s")
    ids = (1, 2, 3, 1, 3, 1, 3, 2)
    with psycopg.connect(servers.dsn) as direct:
        want = [direct.execute(sql, (id_,), prepare=True).fetchall() for id_ in ids]
    for autocommit in (False, True):
        served = STATS.served
        with psycopg.connect(servers.veil_dsn("root"), autocommit=autocommit) as root:
            assert [root.execute(sql, (id_,), prepare=True).fetchall() for id_ in ids] == want
            assert root.info.transaction_status == (
                psycopg.pq.TransactionStatus.IDLE if autocommit else psycopg.pq.TransactionStatus.INTRANS
            )
        assert STATS.served - served >= 2


def test_audit_records_and_cache_counters_of_fast_hits(servers: Servers) -> None:
    servers.clear_cache()
    sql = POINT.replace("$1", "%s")
    cache = servers.veil.engine.cache
    with psycopg.connect(servers.veil_dsn("alice"), autocommit=True) as alice:
        for _ in range(2):
            alice.execute(sql, (1,), prepare=True).fetchall()
        hits, served = cache.stats.hits, STATS.served
        for value in (1, 1, 1):
            assert len(alice.execute(sql, (value,), prepare=True).fetchall()) == 1
        assert STATS.served - served == 3 and cache.stats.hits - hits == 3
    with psycopg.connect(servers.veil_dsn("root"), autocommit=True) as root:
        rows = root.execute(
            'SELECT "user", rows, outcome, cache_hit FROM veil.audit WHERE statement = %s ORDER BY time DESC LIMIT 4',
            (POINT,),
        ).fetchall()
    assert rows == [("alice", 1, "ok", True)] * 4
