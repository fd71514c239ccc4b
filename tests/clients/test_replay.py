"""Replays every statement real clients sent to PostgreSQL 15 (tests/clients/logs/) through Veil as alice.

Each capture runs on one connection in its original order (its BEGIN/SAVEPOINT/ROLLBACK included),
twice: once with the extended protocol for every statement (simple only for multi-statement
strings), once with the protocol the client used. No statement may fail, except the ones Veil must
refuse by design (listed in EXPECTED_ERRORS with the reason).

The captures are part of the repository (copied from the team's shared folder), so a fresh clone has them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.captures import (
    Statement,
    parse_log,
    parse_parameters,
    parse_psql_echo,
    statement_count,
)
from tests.clients.replay import Outcome, Replayer
from tests.conftest import VeilServer

KNOWN_CAPTURES = {
    "asyncpg.log",
    "pgjdbc.log",
    "psql_E.txt",
    "psycopg2.log",
    "psycopg3.log",
    "sqla_psycopg.log",
    "sqla_psycopg2.log",
}
# Statements Veil refuses on purpose (lower-cased prefix -> accepted SQLSTATEs).
EXPECTED_ERRORS: dict[str, set[str]] = {
    # asyncpg's test created an enum with a DO block; Veil is read-only (DESIGN §4): DO is refused.
    "do $$": {"25006", "0A000", "42501"},
    # ...so the enum type it would have created does not exist.
    "select 'a'::mood": {"42704"},
}
# OIDs the captured PostgreSQL gave to objects; replaced by Veil's OIDs for the same objects so that
# psql's and SQLAlchemy's follow-up queries (`WHERE c.oid = '16386'`) look at a real table.
CAPTURED_OIDS = {"16386": ("sales", "orders")}


CAPTURES = Path(__file__).resolve().parent / "logs"


def require_clients_dir() -> Path:
    assert CAPTURES.is_dir(), f"client captures missing from the repository: {CAPTURES}"
    return CAPTURES


def capture_names() -> list[str]:
    found = {p.name for p in CAPTURES.glob("*") if p.suffix == ".log" or p.name == "psql_E.txt"}
    return sorted(found | KNOWN_CAPTURES)


def load(name: str) -> list[Statement]:
    path = require_clients_dir() / name
    assert path.is_file(), f"capture {path} is missing"
    statements = parse_psql_echo(path) if name == "psql_E.txt" else parse_log(path)
    assert statements, f"no statements parsed from {path}"
    return statements


def expected_errors(statement: Statement) -> set[str]:
    sql = statement.sql.strip().lower()
    return next((states for prefix, states in EXPECTED_ERRORS.items() if sql.startswith(prefix)), set())


def with_veil_oids(statement: Statement, oids: dict[str, str]) -> Statement:
    def swap(text: str) -> str:
        return re.sub(r"\b(\d{5})\b", lambda m: oids.get(m.group(1), m.group(1)), text)

    params = [None if value is None else swap(value) for value in statement.params]
    return Statement(statement.source, statement.app, swap(statement.sql), statement.protocol, params, statement.name)


@pytest.fixture
def replayer(veil_server: VeilServer) -> Iterator[Replayer]:
    replayer = Replayer(veil_server.dsn("alice"))
    try:
        yield replayer
    finally:
        replayer.close()


@pytest.fixture
def veil_oids(replayer: Replayer) -> dict[str, str]:
    oids = {}
    for captured, (schema, table) in CAPTURED_OIDS.items():
        rows = replayer.query(
            "SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE n.nspname = '{schema}' AND c.relname = '{table}'"
        )
        assert len(rows) == 1 and rows[0][0], f"{schema}.{table} has no pg_class row: {rows}"
        oids[captured] = str(rows[0][0])
    return oids


def test_captures_are_present() -> None:
    directory = require_clients_dir()
    assert {p.name for p in directory.iterdir()} >= KNOWN_CAPTURES


@pytest.mark.parametrize("mode", ["extended", "captured"])
@pytest.mark.parametrize("capture", capture_names())
def test_replay_capture(capture: str, mode: str, replayer: Replayer, veil_oids: dict[str, str]) -> None:
    failures: list[str] = []
    replayed = 0
    for statement in load(capture):
        outcome: Outcome = replayer.run(
            with_veil_oids(statement, veil_oids), "extended" if mode == "extended" else statement.protocol
        )
        replayed += 1
        expected = expected_errors(statement)
        if expected and outcome.sqlstate not in expected:
            failures.append(f"expected SQLSTATE in {sorted(expected)}, got {outcome.describe()}")
        elif not expected and outcome.sqlstate is not None:
            failures.append(outcome.describe())
            replayer.recover()
    assert replayed > 0
    assert not failures, f"{len(failures)} of {replayed} statements failed:\n" + "\n".join(failures)
    assert replayer.query("SELECT 1") == [("1",)], "the connection is unusable after the replay"


def test_psql_describe_orders_shows_columns(replayer: Replayer, veil_oids: dict[str, str]) -> None:
    """`\\d sales.orders`'s column query, with Veil's OID for sales.orders, lists its columns and types."""
    query = next(s for s in load("psql_E.txt") if "pg_catalog.format_type(a.atttypid, a.atttypmod)" in s.sql)
    outcome = replayer.run(with_veil_oids(query, veil_oids), "simple")
    assert outcome.sqlstate is None, outcome.describe()
    assert [(row[0], row[1]) for row in outcome.rows] == [
        ("id", "bigint"),
        ("customer", "text"),
        ("amount", "numeric(12,2)"),
        ("created", "timestamp without time zone"),
        ("tags", "text[]"),
    ]


def test_psql_dt_lists_visible_tables_only(replayer: Replayer) -> None:
    query = next(
        s for s in load("psql_E.txt") if "pg_catalog.pg_table_is_visible(c.oid)" in s.sql and "'r','p',''" in s.sql
    )
    outcome = replayer.run(query, "simple")
    assert outcome.sqlstate is None, outcome.describe()
    listed = {(row[0], row[1]) for row in outcome.rows}
    assert {("sales", "orders"), ("sales", "customers"), ("sales", "all_types"), ("sales", "big")} <= listed
    assert ("hr", "salaries") not in listed


def test_parsers(tmp_path: Path) -> None:
    assert parse_parameters("parameters: $1 = 'a''b', $2 = NULL, $3 = '', $4 = '{1,2}'") == ["a'b", None, "", "{1,2}"]
    assert statement_count("select ';'; -- x;\nselect $$;$$") == 2
    log = tmp_path / "x.log"
    log.write_text(
        "app=a LOG:  execute S_1: select $1\n\t+ 1\napp=a DETAIL:  parameters: $1 = '5'\n"
        "app=a LOG:  execute fetch from S_1/C_1: select $1\nLOG:  statement: BEGIN\n"
    )
    parsed = [(s.sql, s.protocol, s.params, s.name) for s in parse_log(log)]
    assert parsed == [("select $1\n+ 1", "extended", ["5"], "S_1"), ("BEGIN", "simple", [], "")]
    echo = tmp_path / "psql_E.txt"
    echo.write_text("/******** QUERY *********/\nSELECT 1;\n/************************/\n\nx\n")
    assert [s.sql for s in parse_psql_echo(echo)] == ["SELECT 1;"]
