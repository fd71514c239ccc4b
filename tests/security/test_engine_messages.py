"""No engine's or driver's message reaches a client, and bad statements fail as PostgreSQL fails them.

1. Seeded random statements of the leak generator (tests/security/leak_sql.py), plus the bad
   statements the leak hunt found, run through `veil serve` on a DuckDB and a PostgreSQL source as
   every user: no error a client receives carries an engine's signature ("Binder Error", "[libpq]",
   "sqlglot", a traceback...) and none is XX000.
2. A corpus of bad statements runs through Veil (as the admin, on both sources) and directly on a
   real PostgreSQL holding tables of the same names: the SQLSTATE is PostgreSQL's and, where
   Veil can know it, so is the message (values Veil redacts to "***" aside; a VARCHAR column is
   ``text`` on a DuckDB source and ``character varying`` on PostgreSQL).
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import VeilServer, scratch_database
from tests.security.leak_data import DEFAULT_SCHEMA, PASSWORD, write_postgres
from tests.security.leak_runner import LeakClient
from tests.security.leak_sql import for_source, random_statement

STATEMENTS = int(os.environ.get("VEIL_MESSAGE_EXAMPLES", "200"))
SEED = int(os.environ.get("VEIL_MESSAGE_SEED", "20261207"))

SIGNATURES = (
    "binder error", "catalog error", "parser error", "conversion error", "invalid input error",
    "out of range error", "not implemented error", "internal error:", "[libpq]", "pgres_", "sqlglot",
    "traceback", "failed to prepare query", "failed to execute", "query was:", "invalid_data:",
    "not_found:", "invalid_argument:", "scalar function with name", "circular reference to cte",
    "does not exist!", "use try(", "duckdb", "adbc",
)

# Found by the leak hunt on main (each gave an engine's message, XX000 or a wrong SQLSTATE)
HUNTED = [
    "WITH ledger AS (SELECT * FROM ledger) SELECT card_number, memo FROM ledger",
    "WITH RECURSIVE ledger AS (SELECT * FROM ledger) SELECT card_number, memo FROM ledger",
    "WITH t AS (SELECT * FROM t) SELECT * FROM t",
    "SELECT nosuchfunc(entry_id) FROM ledger",
    "SELECT to_char(entry_id) FROM ledger",
    "SELECT 1 / (entry_id - entry_id) FROM ledger",
    "SELECT memo::int FROM ledger",
    "SELECT l.memo::int FROM ledger l JOIN customers c ON l.email = c.email",
    "SELECT l.memo FROM ledger l JOIN customers c ON l.email = c.email WHERE l.entry_id / (c.customer_id - c.customer_id) > 0",
    "EXPLAIN (SELECT entry_id FROM ledger) EXCEPT SELECT entry_id FROM ledger",
]


def _bad_message(text: str) -> str | None:
    return next((s for s in SIGNATURES if s in text), None)


def test_no_engine_message_and_no_internal_error_reaches_a_client(leak_clients: dict[str, LeakClient]) -> None:
    source = next(iter(leak_clients.values())).source
    rng = random.Random(SEED)
    generated = [random_statement(rng) for _ in range(STATEMENTS)]
    failures: list[str] = []
    refused = 0
    for sql in [*HUNTED, *generated]:
        sql = for_source(sql, DEFAULT_SCHEMA[source])
        for user, client in leak_clients.items():
            outcome = client.run(sql)
            if outcome.sqlstate == "00000":
                continue
            refused += 1
            signature = _bad_message(outcome.text)
            if outcome.sqlstate == "XX000" or signature is not None:
                failures.append(f"{source}/{user} {outcome.sqlstate} ({signature}): {sql}\n    {outcome.text[:300]}")
    assert refused > len(HUNTED)  # the run did exercise errors
    assert not failures, "\n".join(failures[:20])


# statement, whether Veil's message must equal PostgreSQL's (else only the SQLSTATE)
CORPUS = [
    ("SELECT nosuch FROM ledger", True),
    ("SELECT * FROM nosuch", True),
    ("SELECT ledger.nosuch FROM ledger", True),
    ("SELECT x.entry_id FROM ledger", True),
    ("SELECT entry_id FROM ledger l1, ledger l2", True),
    ("SELECT memo::int FROM ledger", True),
    ("SELECT 1 / (entry_id - entry_id) FROM ledger", True),
    ("SELECT 1.5 / (entry_id - entry_id) FROM ledger", True),
    ("SELECT entry_id::float8 / 0 FROM ledger", True),
    ("SELECT entry_id % (entry_id - entry_id) FROM ledger", True),
    ("SELECT entry_id::int + 2147483647 FROM ledger", True),
    ("SELECT memo - true FROM ledger", True),
    ("SELECT coalesce(memo, 1) FROM ledger", True),
    ("SELECT max(max(entry_id)) FROM ledger", True),
    ("SELECT entry_id FROM ledger WHERE sum(entry_id) > 1", True),
    ("SELECT sqrt(-1.0 * entry_id) FROM ledger", True),
    ("SELECT ln(0.0 * entry_id) FROM ledger", True),
    ("SELECT (SELECT entry_id FROM ledger)", True),
    ("WITH RECURSIVE t AS (SELECT * FROM t) SELECT * FROM t", True),
    ("WITH RECURSIVE ledger AS (SELECT * FROM ledger) SELECT memo FROM ledger", True),
    ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT t.n FROM t, t t2) SELECT * FROM t", True),
    ("SELEC 1", True),
    ("WITH t AS (SELECT * FROM t) SELECT * FROM t", False),
    ("SELECT entry_id FROM ledger GROUP BY memo", False),
    ("SELECT to_char(entry_id) FROM ledger", False),
    ("SELECT foo(entry_id) FROM ledger", False),
    ("SELECT entry_id FROM ledger ORDER BY 9", False),
    ("EXPLAIN (SELECT entry_id FROM ledger) EXCEPT SELECT entry_id FROM ledger", False),
]

_QUOTED = re.compile(r'("[^"]*")')


def _same_words(veil: str, postgres: str) -> bool:
    """Equal, except where Veil redacted a quoted value to "***" and for VARCHAR's type name."""
    veil, postgres = (m.replace("character varying", "text") for m in (veil, postgres))
    veil_parts, pg_parts = _QUOTED.split(veil), _QUOTED.split(postgres)
    return len(veil_parts) == len(pg_parts) and all(
        v == p or (v == '"***"' and p.startswith('"')) for v, p in zip(veil_parts, pg_parts, strict=True)
    )


def _outcome(connection: psycopg.Connection, sql: str) -> tuple[str, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            if cursor.description:
                cursor.fetchall()
        return "00000", ""
    except psycopg.Error as error:
        return error.sqlstate or "", error.diag.message_primary or ""


@pytest.fixture(scope="module")
def real_postgres(postgres_dsn: str) -> Iterator[psycopg.Connection]:
    dsn = scratch_database(postgres_dsn, "veil_error_wording")
    write_postgres(dsn)
    with psycopg.connect(dsn, autocommit=True, options="-c search_path=sales,public") as connection:
        yield connection


def test_bad_statements_fail_as_postgres_fails_them(leak_server: tuple[str, VeilServer], real_postgres: psycopg.Connection) -> None:
    source, server = leak_server
    mismatches: list[str] = []
    with psycopg.connect(host=server.host, port=server.port, user="root", password=PASSWORD, dbname="veil",
                         autocommit=True, connect_timeout=10) as veil:
        for sql, words in CORPUS:
            expected = _outcome(real_postgres, sql)
            got = _outcome(veil, for_source(sql, DEFAULT_SCHEMA[source]))
            if got[0] != expected[0] or (words and not _same_words(got[1], expected[1])):
                mismatches.append(f"{sql}\n    veil/{source}: {got}\n    postgres: {expected}")
    assert not mismatches, "\n".join(mismatches)
