"""What the catalog tells a client about its own session and results: pg_stat_ssl for a TLS
connection, and RowDescription's table OID / attribute number (libpq PQftable/PQftablecol)."""

from __future__ import annotations

import re

import psycopg

from tests.proxy.conftest import EngineServerFactory, ServerThread
from tests.proxy.test_proxy_clients import dsn


def test_pg_stat_ssl_shows_the_tls_session(engine_servers: EngineServerFactory) -> None:
    server = engine_servers(tls=True)
    with psycopg.connect(dsn(server, sslmode="require")) as conn:
        row = conn.execute(
            "SELECT ssl, version, cipher, bits, pid = pg_backend_pid() FROM pg_stat_ssl"
        ).fetchall()
        assert len(row) == 1
        ssl, version, cipher, bits, own = row[0]
        assert ssl is True and own is True
        assert re.fullmatch(r"TLSv1\.[23]", version)
        assert re.fullmatch(r"[A-Z0-9_-]+", cipher) and ("AES" in cipher or "CHACHA20" in cipher)
        assert bits in (128, 256)


def test_pg_stat_ssl_without_tls(veil: ServerThread) -> None:
    with psycopg.connect(dsn(veil)) as conn:
        assert conn.execute("SELECT ssl, version, cipher FROM pg_stat_ssl").fetchall() == [
            (False, None, None)
        ]


def test_row_description_names_table_and_column(veil: ServerThread) -> None:
    with psycopg.connect(dsn(veil)) as conn:
        orders = conn.execute("SELECT 'sales.orders'::regclass::oid").fetchone()[0]
        pg_class = conn.execute("SELECT 'pg_class'::regclass::oid").fetchone()[0]
        cases = {
            "SELECT customer AS who, amount + 1, id FROM sales.orders": [(orders, 2), (0, 0), (orders, 1)],
            "SELECT o.* FROM orders o": [(orders, n) for n in range(1, 6)],
            "SELECT c.relname, c.oid, c.tableoid FROM pg_class c LIMIT 1": [(pg_class, 2), (pg_class, 1), (0, 0)],
            "SELECT x.id FROM (SELECT id FROM sales.orders) x": [(0, 0)],
            "WITH t AS (SELECT id FROM sales.orders) SELECT id FROM t": [(0, 0)],
        }
        for sql, expected in cases.items():
            result = conn.execute(sql).pgresult
            assert result is not None
            got = [(result.ftable(i), result.ftablecol(i)) for i in range(result.nfields)]
            assert got == expected, sql
