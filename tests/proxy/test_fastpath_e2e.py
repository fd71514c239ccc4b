"""The pass-through fast path (veil/proxy/fastpath.py): a prepared statement re-executed with
Bind/Describe/Execute/Sync is served from the socket callbacks, and answers exactly what the
message loop answers.

Two in-process Veils over the real engine read one PostgreSQL database: one passing statements
through (where the fast path runs), one on the Arrow path. Replies are compared byte for byte
(whole replies of the same group before and on the fast path, DataRows with PostgreSQL direct)
with a row filter and a hash mask in force; errors, row limits, statement_timeout and cancel
keep their PostgreSQL behaviour. ``STATS.served`` tells that the fast path really ran.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from psycopg.adapt import PyFormat, Transformer

from tests.catalog.support import ddl, private_database, running
from tests.config.support import alice_and_root, everyone_reads, germany_only, hash_emails
from tests.conftest import PASSWORDS, postgres_connection
from tests.proxy import support as raw
from tests.proxy.conftest import ServerThread
from veil.catalog.sources.postgres import passthrough as pgpassthru
from veil.catalog.sources.postgres import wire as pgwire
from veil.config.models import VeilConfig
from veil.engine.engine import QueryEngine
from veil.proxy.fastpath import STATS

DATABASE = "veil_fastpath"
POINT = "SELECT id, email, country, score FROM shop.people WHERE id = $1"
RANGE = "SELECT id, email, country, score FROM shop.people WHERE id >= $1 ORDER BY id"
DIVIDE = "SELECT id / (id - $1) AS q FROM shop.people WHERE id = 2"
# Fast for a small limit, minutes for a big one (900M pairs): only a timeout or cancel ends it.
SLOW = "SELECT count(*) AS n FROM (SELECT 1 FROM shop.big AS a CROSS JOIN shop.big AS b LIMIT $1) AS s"
RAW_EMAILS = {b"a@x.org", b"b@y.org", b"c@z.org", b"d@w.org"}
TYPED_ROWS = (
    "(1, 1, 100000, 10000000000, 1.50, 'ab', '2024-01-02 03:04:05+01', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),"
    " (2, -7, -5, -1, -0.001, 'é', '1999-12-31 23:59:59.5+00', '00000000-0000-0000-0000-000000000001')"
)
TYPED = (
    "SELECT id, n, ts FROM shop.typed WHERE i2 = $1 AND i4 = $2 AND i8 = $3 AND n = $4 AND t = $5 AND ts = $6"
    " AND u = $7"
)
#: int2, int4, int8, numeric, text, timestamptz, uuid
TYPED_OIDS = (21, 23, 20, 1700, 25, 1184, 2950)


@dataclass
class Servers:
    dsn: str
    passthrough: ServerThread
    arrow: ServerThread

    def veil_dsn(self, user: str, arrow: bool = False) -> str:
        port = (self.arrow if arrow else self.passthrough).port
        return f"host=127.0.0.1 port={port} user={user} password={PASSWORDS[user]} dbname=veil sslmode=disable"


def _config(dsn: str, passthrough: bool, directory: Path) -> VeilConfig:
    return VeilConfig.model_validate(
        {
            "server": {"host": "127.0.0.1", "port": 0},
            "audit": {"path": str(directory / "audit.jsonl")},
            "state_dir": str(directory / "state"),
            "secrets": {"hash_key": "fastpath-key"},
            "connections": {
                "pg": postgres_connection(dsn, population={"schemas": ["shop"]}, latency=0, passthrough=passthrough)
            },
            "tables": {"pg.shop.people": {"tags": {"email": ["PII.Email"]}}},
            "users": alice_and_root(),
            "policies": [everyone_reads(), hash_emails(), germany_only("shop.people")],
        }
    )


@pytest.fixture(scope="module")
def servers(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with private_database(postgres_dsn, DATABASE) as dsn:
        ddl(
            dsn,
            "CREATE SCHEMA shop",
            "CREATE TABLE shop.people (id int PRIMARY KEY, email text NOT NULL, country char(2), score numeric)",
            "INSERT INTO shop.people VALUES (1, 'a@x.org', 'DE', 1.5), (2, 'b@y.org', 'FR', NULL),"
            " (3, 'c@z.org', 'DE', -2), (4, 'd@w.org', 'DE', 1e20)",
            "CREATE TABLE shop.big AS SELECT g AS n FROM generate_series(1, 30000) AS g",
            "CREATE TABLE shop.typed (id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, n numeric, t text,"
            " ts timestamptz, u uuid)",
            f"INSERT INTO shop.typed VALUES {TYPED_ROWS}",
        )
        started: list[ServerThread] = []
        try:
            for passthrough in (True, False):
                config = _config(dsn, passthrough, tmp_path_factory.mktemp("fastpath"))
                started.append(ServerThread(config, QueryEngine(config)).start())
            yield Servers(dsn, *started)
        finally:
            for server in started:
                server.stop()
                server.engine.close()


def _prepared_cells(dsn: str, sql: str, runs: list[tuple[bytes, int]], fmt: int) -> list[list[list[bytes | None]]]:
    """Raw cells of ``sql`` prepared once and executed for each (parameter, parameter format),
    as libpq's PQexecPrepared asks: Bind, Describe (portal), Execute, Sync."""
    groups = [raw.group(value, [fmt], param_format=param_format) for value, param_format in runs]
    return [raw.cells(reply) for reply in raw.replies(dsn, sql, groups)]


@pytest.mark.parametrize("fmt", [0, 1], ids=["text", "binary"])
def test_fast_path_rows_equal_postgresql_with_policies_in_force(servers: Servers, fmt: int) -> None:
    runs = [(b"1", 0), (b"1", 0), (b"2", 0), (struct.pack("!i", 3), 1), (b"4", 0), (struct.pack("!i", 2), 1)]
    direct = _prepared_cells(servers.dsn, POINT, runs, fmt)
    served = STATS.served
    root = _prepared_cells(servers.veil_dsn("root"), POINT, runs, fmt)
    assert STATS.served - served >= len(runs) - 1  # every execution after the first
    assert root == direct
    served = STATS.served
    alice = _prepared_cells(servers.veil_dsn("alice"), POINT, runs, fmt)
    assert STATS.served - served >= len(runs) - 1
    assert alice == _prepared_cells(servers.veil_dsn("alice", arrow=True), POINT, runs, fmt)
    # The row filter: id 2 (FR) is not seen; the mask: no raw email is.
    assert [len(rows) for rows in alice] == [1, 1, 0, 1, 1, 0]
    cells = [row for rows in alice for row in rows]
    assert all(row[1] is not None and row[1] not in RAW_EMAILS for row in cells)
    assert [row[0] for row in cells] == [row[0] for rows in direct for row in rows if row[2] == b"DE"]


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_psycopg_prepared_statements(servers: Servers, binary: bool) -> None:
    sql = RANGE.replace("$1", "%s")
    bounds = (1, 2, 3, 1, 5)
    with psycopg.connect(servers.dsn) as direct:
        want = [direct.cursor(binary=binary).execute(sql, (low,), prepare=True).fetchall() for low in bounds]
    served = STATS.served
    with psycopg.connect(servers.veil_dsn("root")) as root:  # in a transaction block
        assert [root.cursor(binary=binary).execute(sql, (low,), prepare=True).fetchall() for low in bounds] == want
    assert STATS.served - served == len(bounds) - 1
    served = STATS.served
    with psycopg.connect(servers.veil_dsn("alice"), autocommit=True) as alice:
        seen = [alice.cursor(binary=binary).execute(sql, (low,), prepare=True).fetchall() for low in bounds]
    assert STATS.served - served == len(bounds) - 1
    for rows, expected in zip(seen, want, strict=True):
        assert [row[0] for row in rows] == [row[0] for row in expected if row[2] == "DE"]
        assert not {row[1].encode() for row in rows} & RAW_EMAILS


@pytest.mark.parametrize("formats", [[0], [1], [1, 0, 1, 0]], ids=["text", "binary", "mixed"])
def test_fast_reply_is_the_slow_reply_byte_for_byte(servers: Servers, formats: list[int]) -> None:
    groups = [
        raw.group(b"1", formats),
        raw.group(b"1", formats),
        raw.group(b"3", formats, describe=False),
        raw.group(b"3", formats),
    ]
    direct = raw.replies(servers.dsn, RANGE, groups)
    served = STATS.served
    replies = raw.replies(servers.veil_dsn("root"), RANGE, groups)
    assert STATS.served - served == 3  # the first execution takes the message loop
    assert replies[1] == replies[0]  # slow and fast: the same bytes, RowDescription included
    assert [raw.data_rows(r) for r in replies] == [raw.data_rows(r) for r in direct]
    assert replies[2].startswith(b"2\0\0\0\x04D") and replies[3].startswith(b"2\0\0\0\x04T")


def test_row_limit_suspends_the_portal_as_postgresql_does(servers: Servers) -> None:
    groups = [
        raw.group(b"1", [0]), raw.group(b"1", [0], max_rows=2), raw.group(b"2", [1], max_rows=1), raw.group(b"1", [0])
    ]
    direct = raw.replies(servers.dsn, RANGE, groups)
    replies = raw.replies(servers.veil_dsn("root"), RANGE, groups)
    assert [raw.data_rows(r) for r in replies] == [raw.data_rows(r) for r in direct]
    assert len(raw.cells(replies[1])) == 2 and b"s\0\0\0\x04Z" in replies[1]


def test_source_error_keeps_its_sqlstate(servers: Servers) -> None:
    sql = DIVIDE.replace("$1", "%s")
    with psycopg.connect(servers.veil_dsn("alice"), autocommit=True) as alice:
        assert alice.execute(sql, (1,), prepare=True).fetchall() == []  # id 2 is filtered out
    with psycopg.connect(servers.veil_dsn("root")) as root:
        assert root.execute(sql, (1,), prepare=True).fetchall() == [(2,)]
        assert root.execute(sql, (3,), prepare=True).fetchall() == [(-2,)]
        served = STATS.served
        with pytest.raises(psycopg.errors.DivisionByZero):
            root.execute(sql, (2,), prepare=True).fetchall()
        assert STATS.served == served + 1
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):  # the block failed
            root.execute(sql, (1,), prepare=True).fetchall()
        root.rollback()
        assert root.execute(sql, (1,), prepare=True).fetchall() == [(2,)]
    answers = raw.replies(servers.veil_dsn("root"), DIVIDE, [raw.group(b"1", [0]), raw.group(b"2", [0])])
    assert b"C22012\0" in answers[1] and answers[1].endswith(b"Z\0\0\0\x05I")


def test_statement_timeout_and_cancel_end_the_source_query(servers: Servers) -> None:
    sql = SLOW.replace("$1", "%s")
    with psycopg.connect(servers.veil_dsn("root"), autocommit=True) as root:
        root.execute("SET statement_timeout = '300ms'")
        for _ in range(2):
            assert root.execute(sql, (70_000,), prepare=True).fetchone() == (70_000,)
        served = STATS.served
        began = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
            root.execute(sql, (900_000_000,), prepare=True).fetchone()
        assert STATS.served == served + 1 and time.monotonic() - began < 10
        root.execute("SET statement_timeout = 0")
        for _ in range(2):
            assert root.execute(sql, (70_000,), prepare=True).fetchone() == (70_000,)
        timer = threading.Timer(0.5, root.cancel_safe)
        timer.start()
        served = STATS.served
        with pytest.raises(psycopg.errors.QueryCanceled, match="user request"):
            root.execute(sql, (900_000_000,), prepare=True).fetchone()
        assert STATS.served == served + 1
        assert root.execute(sql, (70_000,), prepare=True).fetchone() == (70_000,)
    assert running(servers.dsn, "CROSS JOIN") == 0


def test_audit_records_of_fast_executions(servers: Servers) -> None:
    sql = POINT.replace("$1", "%s")
    with psycopg.connect(servers.veil_dsn("root"), autocommit=True) as root:
        for value in (1, 2, 3):
            root.execute(sql, (value,), prepare=True).fetchall()
        rows = root.execute(
            "SELECT rows, outcome FROM veil.audit WHERE statement = %s ORDER BY time DESC LIMIT 3",
            (sql.replace("%s", "$1"),),
        ).fetchall()
    assert rows == [(1, "ok")] * 3


def _typed_group(values: list[bytes | None], formats: list[int]) -> bytes:
    bind = pgwire.message(
        b"B",
        b"\0s\0"
        + struct.pack(f"!h{len(formats)}h", len(formats), *formats)
        + pgpassthru.bind(b"", values, [1])[9:],  # the values and result formats of a Bind
    )
    return bind + pgwire.message(b"D", b"P\0") + pgwire.message(b"E", b"\0\0\0\0\0") + pgwire.message(b"S")


def _sqlstates(reply: bytes) -> list[bytes]:
    return [part.split(b"\0")[0] for part in reply.split(b"\0C")[1:]] if reply.startswith(b"E") else []


def test_parameters_of_every_type_and_format_reach_the_source_as_postgresql_reads_them(servers: Servers) -> None:
    dump = Transformer()

    def binary(value: object) -> bytes:
        return bytes(dump.get_dumper(value, PyFormat.BINARY).dump(value))

    row1_text = [
        b"1",
        b"100000",
        b"10000000000",
        b"1.5",
        b"ab",
        b"2024-01-02 02:04:05Z",
        b"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
    ]
    row2_binary = [
        struct.pack("!h", -7),
        struct.pack("!i", -5),
        struct.pack("!q", -1),
        binary(Decimal("-0.0010")),
        "é".encode(),
        binary(datetime(1999, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)),
        binary(UUID(int=1)),
    ]
    malformed = [*row2_binary[:1], bytes(6), *row2_binary[2:]]  # an int4 of six bytes
    groups = [
        _typed_group(row1_text, [0]),
        _typed_group(row1_text, [0]),
        _typed_group(row2_binary, [1]),
        _typed_group([*row1_text[:3], binary(Decimal("1.50")), *row1_text[4:]], [0, 0, 0, 1, 0, 0, 0]),
        _typed_group([None, *row1_text[1:]], [0]),
        _typed_group([None] * 7, [1]),
        _typed_group(malformed, [1]),
        _typed_group(row2_binary, [1]),
    ]
    direct = raw.replies(servers.dsn, TYPED, groups, TYPED_OIDS)
    served = STATS.served
    replies = raw.replies(servers.veil_dsn("root"), TYPED, groups, TYPED_OIDS)
    assert STATS.served - served == len(groups) - 1  # the malformed value too: the source reads it
    assert [raw.data_rows(r, errors=True) for r in replies] == [raw.data_rows(r, errors=True) for r in direct]
    assert [len(raw.cells(replies[i])) for i in (0, 1, 2, 3, 4, 5, 7)] == [1, 1, 1, 1, 0, 0, 1]
    assert _sqlstates(replies[6]) == _sqlstates(direct[6]) == [b"22P03"]
    assert replies[6].endswith(b"Z\0\0\0\x05I")


def test_parameter_types_the_source_refuses_fall_back_to_text_values(servers: Servers) -> None:
    sql = "SELECT id FROM shop.people WHERE id = $1 + 1"  # Veil cannot tell $1's type: text
    groups = [raw.group(b"1", [0]), raw.group(b"1", [0]), raw.group(b"2", [0]), raw.group(b"0", [0])]
    direct = raw.replies(servers.dsn, sql, groups)
    served = STATS.served
    replies = raw.replies(servers.veil_dsn("root"), sql, groups)
    assert STATS.served - served >= 2
    assert [raw.data_rows(r) for r in replies] == [raw.data_rows(r) for r in direct]
    assert [len(raw.cells(r)) for r in replies] == [1, 1, 1, 1]
