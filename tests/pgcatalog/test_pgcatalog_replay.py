"""Every statement real clients sent (psql, pgJDBC, asyncpg, psycopg 2/3, SQLAlchemy) that reads
no user table runs through compile → describe → execute without error.

Statements the session handles itself (SET, SHOW, transaction control, DO, CLOSE/UNLISTEN/RESET)
and data queries on user tables are recognised by classification and must be exactly the ones
listed below, so a classification change cannot silently shrink the replay.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlglot import exp

from tests.pgcatalog.clientlog import Captured, all_captured
from tests.pgcatalog.pgcat_support import VISIBLE, Runner
from veil.errors import VeilError
from veil.pgcatalog import parse_postgres, references_local_only

SESSION_HANDLED = {
    "SET extra_float_digits = 3",
    "SET application_name = 'pgjdbc'",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    'SAVEPOINT "_pg3_1"',
    'RELEASE "_pg3_1"',
    "show transaction isolation level",
    "show standard_conforming_strings",
    "CLOSE ALL",
    "UNLISTEN *",
    "RESET ALL",
    (
        "do $$ begin if not exists (select 1 from pg_type where typname='mood') then create type "
        "mood as enum ('a','b'); end if; end $$"
    ),
}
DATA_QUERIES = {
    "select id, customer, amount, created, tags from sales.orders where id = $1",
    "select id from sales.orders where id = 1",
    "select id, customer from sales.orders where id = $1",
}
# Statements that fail in Veil exactly as PostgreSQL would fail them for this catalog.
EXPECTED_ERRORS = {"select 'a'::mood": "42704"}  # the enum exists only in the capture's database


def _is_user_table(schema: str | None, name: str) -> bool:
    return any((schema in (None, t.schema)) and name == t.name for t in VISIBLE)


def _statements(entry: Captured) -> Iterator[tuple[str, exp.Expr | None]]:
    """(sql, ast) per statement; ast None when sqlglot cannot parse it (session commands)."""
    try:
        statements = parse_postgres(entry.sql)
    except VeilError:
        for part in entry.sql.split(";"):
            if part.strip():
                try:
                    yield part.strip(), parse_postgres(part)[0]
                except VeilError:
                    yield part.strip(), None
        return
    if len(statements) == 1:
        yield entry.sql.strip(), statements[0]
    else:
        for statement in statements:
            yield statement.sql(dialect="postgres"), statement


def _classify() -> tuple[list[tuple[Captured, str]], set[str], set[str]]:
    local: list[tuple[Captured, str]] = []
    session: set[str] = set()
    data: set[str] = set()
    for entry in all_captured():
        for sql, statement in _statements(entry):
            if statement is None or not isinstance(statement, exp.Query):
                session.add(" ".join(sql.split()))
            elif references_local_only(statement, _is_user_table):
                local.append((entry, sql))
            else:
                data.add(" ".join(sql.split()))
    return local, session, data


LOCAL, SESSION, DATA = _classify()


def test_classification_is_the_expected_one() -> None:
    assert SESSION == SESSION_HANDLED
    assert DATA == DATA_QUERIES
    assert len(LOCAL) >= 80


@pytest.mark.parametrize(("entry", "sql"), LOCAL, ids=[e.label for e, _ in LOCAL])
def test_replay(run: Runner, entry: Captured, sql: str) -> None:
    expected = EXPECTED_ERRORS.get(" ".join(sql.split()))
    params = entry.params if "$" in sql else []
    if expected is not None:
        with pytest.raises(VeilError) as error:
            run(sql, params)
        assert error.value.sqlstate == expected
        return
    schema, rows = run(sql, params)
    assert len(schema) > 0
    for row in rows:
        assert len(row) == len(schema)
