"""A CTE whose name is also a table's, defined in another scope of the same statement, must
never make Veil send that table unprotected (issue #10). Each statement reads the real
``transactions`` in one scope and defines a CTE ``transactions`` in another; the analyst must
see hashed cards of US/CA rows only, on a DuckDB source and on a PostgreSQL source."""

from __future__ import annotations

from collections.abc import Iterator
from hashlib import sha256

import pytest

from tests.conftest import VeilServer
from tests.security.support import HASH_KEY, HIDDEN_IDS, RAW_CARDS, rows, serve


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VeilServer]:
    yield from serve(request, tmp_path_factory, request.param)


# Each statement also reads ``countries`` (unprotected): the statement then runs on the source,
# where an unqualified ``transactions`` left unprotected would resolve to the raw table.
JOIN = "JOIN countries c ON c.code = t.country"
SHADOWING = {
    "cte in a subquery": f"SELECT t.id, t.card_number FROM transactions t {JOIN} "
    "WHERE EXISTS (WITH transactions AS (SELECT 1 AS x) SELECT x FROM transactions)",
    "cte in another cte": "WITH a AS (WITH transactions AS (SELECT 1 AS x) SELECT x FROM transactions) "
    f"SELECT t.id, t.card_number FROM transactions t {JOIN} CROSS JOIN a",
    "cte defined after its use in the same WITH": f"WITH a AS (SELECT t.id, t.card_number FROM transactions t {JOIN}), "
    "transactions AS (SELECT 1 AS x) SELECT * FROM a",
    "cte in a set operation branch": f"SELECT t.id, t.card_number FROM transactions t {JOIN} UNION ALL "
    "(WITH transactions AS (SELECT 0 AS id, 'x' AS card_number) SELECT id, card_number FROM transactions)",
    "recursive cte": f"SELECT t.id, t.card_number FROM transactions t {JOIN} WHERE t.id IN (WITH RECURSIVE "
    "transactions(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM transactions WHERE id < 10) SELECT id FROM transactions)",
    "cte in a lateral subquery": f"SELECT t.id, t.card_number FROM transactions t {JOIN} CROSS JOIN LATERAL "
    "(WITH transactions AS (SELECT 1 AS x) SELECT x FROM transactions) l",
    "cte in a correlated subquery": f"SELECT t.id, t.card_number FROM transactions t {JOIN} WHERE EXISTS "
    "(WITH transactions AS (SELECT 1 AS x) SELECT 1 FROM transactions WHERE x <= t.id)",
    "outer cte, qualified table": "WITH transactions AS (SELECT 0 AS id, 'x' AS card_number, 'US' AS country) "
    f"SELECT t.id, t.card_number FROM {{schema}}.transactions t {JOIN}",
}


def _hashed(card: str) -> str:
    return sha256(f"{HASH_KEY}:{card}".encode()).hexdigest()


@pytest.mark.parametrize("sql", list(SHADOWING.values()), ids=list(SHADOWING))
def test_a_cte_in_another_scope_never_unprotects_the_table(server: VeilServer, sql: str) -> None:
    schema = "main" if server.warehouse.suffix == ".duckdb" else "public"
    result = rows(server, "analyst", sql.format(schema=schema))
    cards = {str(card) for _, card in result}
    ids = {int(i) for i, _ in result}
    assert not cards & RAW_CARDS, "raw card numbers reached the analyst"
    assert not ids & HIDDEN_IDS, "rows of another country reached the analyst"
    assert _hashed("4111111111111111") in cards  # the real table was read, through its policies


def test_a_user_cte_named_like_the_table_reads_the_cte(server: VeilServer) -> None:
    result = rows(server, "analyst", "WITH transactions AS (SELECT 42 AS id) SELECT id FROM transactions")
    assert result == [(42,)]
