import pytest
import sqlglot

from veil.policy.leakproof import predicates_are_leakproof


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM t WHERE id = $1",
        "SELECT * FROM t WHERE id = 5 AND (name LIKE 'a%' OR name IS NULL)",
        "SELECT * FROM t WHERE id IN (1, 2, $1) AND amount BETWEEN 1 AND 10 AND NOT flag = TRUE",
        "SELECT * FROM t WHERE created >= CAST('2024-01-01' AS TIMESTAMP)",
        "SELECT count(*) FROM t",
        "SELECT a.x FROM (SELECT x FROM t WHERE x > 3) a",
    ],
)
def test_leakproof_predicates(sql: str) -> None:
    assert predicates_are_leakproof(sqlglot.parse_one(sql, read="postgres"))


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM t WHERE 100 / amount > 0",
        "SELECT * FROM t WHERE CAST(card AS INT) = 4",
        "SELECT * FROM t WHERE CASE WHEN country = 'DE' THEN 1 / (id - id) ELSE 1 END = 1",
        "SELECT * FROM t JOIN u ON t.id = u.id",
        "SELECT * FROM t WHERE id IN (SELECT id FROM u)",
        "SELECT * FROM t WHERE lower(name) = 'x'",
        "SELECT * FROM (SELECT * FROM t WHERE 1 / x > 0) s",
    ],
)
def test_predicates_that_may_leak(sql: str) -> None:
    assert not predicates_are_leakproof(sqlglot.parse_one(sql, read="postgres"))
