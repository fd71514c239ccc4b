"""Cursors, SQL PREPARE/EXECUTE and COPY TO STDOUT compared step by step with PostgreSQL 15: the
same script runs through `veil serve` (test warehouse) and on a real PostgreSQL holding the same
rows, and every step must give the same rows, command tag and SQLSTATE: FETCH/MOVE in every
direction on SCROLL cursors, PostgreSQL's error for backward moves on NO SCROLL ones, CLOSE ALL,
WITH HOLD surviving COMMIT, cursors and portals gone at ROLLBACK, DEALLOCATE ALL, and COPY
(query) TO STDOUT byte for byte in text, CSV (HEADER, DELIMITER, NULL, QUOTE, ESCAPE,
FORCE_QUOTE) and binary. (One deliberate difference is left out: Veil refuses ``PREPARE p AS
DELETE ...`` with 25006 at PREPARE, where a read-only PostgreSQL refuses it at EXECUTE.)"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import VeilServer, scratch_database

SCHEMA = """
CREATE SCHEMA sales;
CREATE TABLE sales.customers AS SELECT i::int8 AS id, 'customer ' || i AS name,
    (ARRAY['US','CA','DE'])[1 + i % 3] AS country FROM generate_series(1, 100) i;
"""
Q = "SELECT id, country FROM sales.customers WHERE id <= 10 ORDER BY id"

SCROLL = [
    "BEGIN", f"DECLARE s SCROLL CURSOR FOR {Q}",
    "FETCH NEXT FROM s", "FETCH FORWARD 3 FROM s", "FETCH PRIOR FROM s", "FETCH BACKWARD 2 FROM s",
    "FETCH FIRST FROM s", "FETCH LAST FROM s", "FETCH ABSOLUTE 4 FROM s", "FETCH ABSOLUTE -2 FROM s",
    "FETCH RELATIVE -3 FROM s", "FETCH RELATIVE 0 FROM s", "FETCH RELATIVE 2 FROM s", "FETCH ABSOLUTE 50 FROM s",
    "FETCH PRIOR FROM s", "FETCH BACKWARD ALL FROM s", "FETCH NEXT FROM s", "FETCH ALL FROM s", "FETCH NEXT FROM s",
    "MOVE ABSOLUTE 0 IN s", "MOVE FORWARD 4 IN s", "FETCH 2 FROM s", "MOVE BACKWARD ALL IN s", "MOVE RELATIVE 3 IN s",
    "FETCH FORWARD 0 FROM s", "FETCH BACKWARD 0 FROM s", "MOVE LAST IN s", "FETCH s", "MOVE FIRST IN s", "FETCH IN s", "FETCH 20 s", "COMMIT",
]
NO_SCROLL = [
    "BEGIN", f"DECLARE n NO SCROLL CURSOR FOR {Q}", "FETCH 2 FROM n", "FETCH PRIOR FROM n", "ROLLBACK",
    "BEGIN", f"DECLARE n NO SCROLL CURSOR FOR {Q}", "MOVE 3 IN n", "MOVE BACKWARD 1 IN n", "ROLLBACK",
    "BEGIN", f"DECLARE n NO SCROLL CURSOR FOR {Q}", "FETCH ABSOLUTE 1 FROM n", "ROLLBACK",
    "BEGIN", f"DECLARE n CURSOR FOR {Q}", "FETCH 3 FROM n", "FETCH ABSOLUTE 5 FROM n", "FETCH RELATIVE 1 FROM n",
    "FETCH FORWARD ALL FROM n", "ROLLBACK",
]
LIFETIMES = [
    f"DECLARE outside CURSOR FOR {Q}",  # 25P01: only in a transaction block
    "BEGIN", f"DECLARE a CURSOR FOR {Q}", f"DECLARE b SCROLL CURSOR FOR {Q}", "FETCH 1 FROM a", "CLOSE ALL",
    "FETCH 1 FROM a", "ROLLBACK",
    "BEGIN", f"DECLARE a CURSOR FOR {Q}", f"DECLARE a CURSOR FOR {Q}", "ROLLBACK",  # 42P03
    "BEGIN", f"DECLARE h CURSOR WITH HOLD FOR {Q}", f"DECLARE t CURSOR FOR {Q}", "FETCH 2 FROM h", "COMMIT",
    "FETCH 2 FROM h", "FETCH 1 FROM t",
    "BEGIN", "FETCH 1 FROM h", "ROLLBACK", "FETCH 1 FROM h",  # a held cursor outlives a later ROLLBACK
    "BEGIN", f"DECLARE h2 CURSOR WITH HOLD FOR {Q}", "ROLLBACK", "FETCH 1 FROM h2",  # ...not its own
    "BEGIN", f"DECLARE r CURSOR FOR {Q}", "FETCH 1 FROM r", "SELECT 1/0", "FETCH 1 FROM r", "ROLLBACK",
    "FETCH 1 FROM r", "CLOSE h", "CLOSE h", "CLOSE ALL",
    "BEGIN", f"DECLARE bin BINARY CURSOR FOR {Q}", "MOVE 9 IN bin", "FETCH ALL FROM bin", "COMMIT",
]
PREPARED = [
    "PREPARE p1(int8) AS SELECT id, country FROM sales.customers WHERE id = $1",
    "PREPARE p2 AS SELECT count(*) FROM sales.customers WHERE country = $1", "EXECUTE p1(3)", "EXECUTE p2('DE')",
    "EXECUTE p1('x')", "EXECUTE p1(1, 2)", "PREPARE p1 AS SELECT 1", "DEALLOCATE p1", "EXECUTE p1(3)",
    "DEALLOCATE p1", "EXECUTE p2('US')", "DEALLOCATE ALL", "EXECUTE p2('US')", "DEALLOCATE PREPARE ALL",
]
COPIES = [
    f"COPY ({Q}) TO STDOUT", f"COPY ({Q}) TO STDOUT (FORMAT csv)",
    f"COPY ({Q}) TO STDOUT (FORMAT csv, HEADER, DELIMITER ';', QUOTE '''', FORCE_QUOTE (country))",
    f"COPY ({Q}) TO STDOUT (FORMAT csv, FORCE_QUOTE *, NULL 'NIL')",
    "COPY (SELECT id, CASE WHEN id % 2 = 0 THEN NULL ELSE country || '\"x' END AS c FROM sales.customers "
    "WHERE id < 5 ORDER BY id) TO STDOUT (FORMAT csv, HEADER, QUOTE '\"', ESCAPE '\\', NULL '-')",
    f"COPY ({Q}) TO STDOUT (FORMAT text, DELIMITER '|', NULL 'null')", f"COPY ({Q}) TO STDOUT WITH CSV HEADER",
    f"COPY ({Q}) TO STDOUT (FORMAT binary)", "COPY sales.customers (id, country) TO STDOUT (FORMAT csv)",
    f"COPY ({Q}) TO STDOUT (FORMAT csv, FORCE_QUOTE (nosuch))", f"COPY ({Q}) TO STDOUT (FORMAT text, HEADER, QUOTE '\"')",
    f"COPY ({Q}) TO STDOUT (FORMAT csv, DELIMITER ',,')", f"COPY ({Q}) TO STDOUT (FORMAT csv, FORCE_QUOTE (id, id))",
    f"COPY ({Q}) TO STDOUT (FORMAT binary, HEADER)", f"COPY ({Q}) TO STDOUT (FORMAT csv, QUOTE ',')",
    f"COPY ({Q}) TO STDOUT (FORMAT text, ESCAPE '!')", f"COPY ({Q}) TO STDOUT (FORMAT csv, NULL 'a,b')",
    f"COPY ({Q}) TO STDOUT (FORMAT binary, NULL 'x')", f"COPY ({Q}) TO STDOUT (FORMAT csv, FORCE_NOT_NULL (id))",
]
Outcome = tuple[str, str | None, list[tuple[object, ...]]] | tuple[str, bytes]


def _step(conn: psycopg.Connection, sql: str) -> Outcome:
    try:
        with conn.cursor() as cur:
            if sql.startswith("COPY"):
                with cur.copy(sql) as copy:  # type: ignore[arg-type]
                    return "copy", b"".join(bytes(block) for block in copy)
            cur.execute(sql)  # type: ignore[arg-type]
            return "ok", cur.statusmessage, cur.fetchall() if cur.description else []
    except psycopg.Error as error:
        return error.sqlstate or "", None, []


@pytest.fixture(scope="module")
def postgres(postgres_dsn: str) -> Iterator[psycopg.Connection]:
    dsn = scratch_database(postgres_dsn, "veil_cursor_script")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)  # type: ignore[arg-type]
    with psycopg.connect(dsn, autocommit=True, options="-c default_transaction_read_only=on") as conn:
        yield conn


@pytest.fixture(scope="module")
def veil(veil_server: VeilServer) -> Iterator[psycopg.Connection]:
    with psycopg.connect(veil_server.dsn("root"), autocommit=True) as conn:
        yield conn


@pytest.mark.parametrize("script", [SCROLL, NO_SCROLL, LIFETIMES, PREPARED, COPIES],
                         ids=["scroll", "no_scroll", "lifetimes", "prepared", "copy"])
def test_script_runs_as_on_postgres(veil: psycopg.Connection, postgres: psycopg.Connection, script: list[str]) -> None:
    differences = []
    for sql in script:
        expected, got = _step(postgres, sql), _step(veil, sql)
        if got != expected:
            differences.append(f"{sql}\n    veil: {got!r:.400}\n    postgres: {expected!r:.400}")
    for conn in (veil, postgres):
        conn.execute("ROLLBACK") if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE else None
        conn.execute("CLOSE ALL")
        conn.execute("DEALLOCATE ALL")
    assert not differences, f"{len(differences)} of {len(script)} steps differ:\n" + "\n".join(differences)
