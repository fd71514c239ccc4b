"""The policy matrix, end to end: real `veil serve`, real psycopg, every SQL shape.

For each user profile and SQL shape we assert what the user sees *and* what they must not see:
raw card numbers and e-mail addresses never appear in any result or error message, rows of other
countries never appear, and tables without a subscription do not exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path

import psycopg
import pytest

from tests.conftest import (
    VeilServer,
    postgres_connection,
    scratch_database,
    start_server,
    stop_server,
)
from tests.seed import seed_duckdb, seed_postgres
from veil.proxy.auth import make_scram_verifier

HASH_KEY = "matrix-key"
PASSWORD = "pw"
NOW = datetime.now(UTC).replace(microsecond=0)
ROWS = [
    # id, customer, card_number, email, country, amount, created_at
    (1, "ann", "4111111111111111", "ann@us.example", "US", 10.00, NOW - timedelta(days=1)),
    (2, "bo", "5500005555555559", "bo@us.example", "US", 20.00, NOW - timedelta(days=2)),
    (3, "cy", "340000000000009", "cy@ca.example", "CA", 30.00, NOW - timedelta(days=3)),
    (4, "di", "6011000990139424", "di@de.example", "DE", 40.00, NOW - timedelta(days=4)),
    (5, "ed", "3530111333300000", "ed@de.example", "DE", 0.00, NOW - timedelta(days=5)),
    (6, "fi", "4012888888881881", "fi@us.example", "US", 60.00, NOW - timedelta(days=800)),
]
RAW_CARDS = {row[2] for row in ROWS}
RAW_EMAILS = {row[3] for row in ROWS}


TABLES_SQL = [
    "CREATE SCHEMA sales",
    "CREATE TABLE sales.transactions (id BIGINT, customer VARCHAR, card_number VARCHAR, email VARCHAR,"
    " country VARCHAR, amount DECIMAL(10, 2), created_at TIMESTAMPTZ)",
    "CREATE TABLE sales.countries AS SELECT * FROM (VALUES ('US', 'United States'), ('CA', 'Canada'),"
    " ('DE', 'Germany')) t(code, name)",
    "CREATE SCHEMA hr",
    "CREATE TABLE hr.salaries AS SELECT 'ann' AS employee, 100 AS salary",
]


def write_duckdb(path: Path) -> dict[str, object]:
    return seed_duckdb(path, TABLES_SQL, {"sales.transactions": ROWS})


def write_postgres(dsn: str) -> dict[str, object]:
    seed_postgres(dsn, TABLES_SQL, {"sales.transactions": ROWS})
    return postgres_connection(dsn)


def matrix_config(connection: dict[str, object]) -> dict[str, object]:
    user = {"password": make_scram_verifier(PASSWORD)}
    return {
        "server": {"host": "127.0.0.1", "port": 0, "search_path": "sales, public"},
        "secrets": {"hash_key": HASH_KEY},
        "connections": {"warehouse": connection},
        "tables": {
            "warehouse.sales.transactions": {
                "event_time": "created_at",
                "tags": {"card_number": ["PII.CreditCard"], "email": ["PII.Email"], "customer": ["PII"]},
            }
        },
        "users": {
            "analyst": {**user, "groups": ["Analytics"], "attributes": {"country": ["US", "CA"]}},
            "fraud": {**user, "groups": ["Fraud"]},
            "intern": {**user, "groups": ["Interns"]},
            "nocountry": {**user, "groups": ["Analytics"]},
            "root": {**user, "admin": True},
        },
        "policies": [
            {"name": "Sales readers", "subscription": {"tables": ["warehouse.sales.*"], "allow": {"groups": ["Analytics", "Fraud"], "users": ["root"]}}},
            {"name": "Generic PII", "mask": {"column_tags": ["PII"], "with": "null", "except": {"groups": ["Fraud"]}}},
            {"name": "Hash cards", "mask": {"column_tags": ["PII.CreditCard"], "with": "hash", "except": {"groups": ["Fraud"]}}},
            {"name": "Email domain", "mask": {"column_tags": ["PII.Email"], "with": "email_domain", "except": {"groups": ["Fraud"]}}},
            {"name": "Own countries", "row_filter": {"tables": ["warehouse.sales.transactions"], "where": "@attributeValuesContains('country', country)", "except": {"groups": ["Fraud"]}}},
            {"name": "Last year", "time_window": {"tables": ["warehouse.sales.transactions"], "last": "365d"}},
        ],
    }


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VeilServer]:
    """The same warehouse and policies, served from DuckDB and from PostgreSQL."""
    directory = tmp_path_factory.mktemp(f"matrix-{request.param}")
    if request.param == "duckdb":
        connection = write_duckdb(directory / "wh.duckdb")
    else:
        admin_dsn = request.getfixturevalue("postgres_dsn")
        connection = write_postgres(scratch_database(admin_dsn, "veil_policy_matrix"))
    process, info = start_server(directory, matrix_config(connection))
    try:
        yield info
    finally:
        stop_server(process)


def connect(server: VeilServer, user: str) -> psycopg.Connection:
    return psycopg.connect(host=server.host, port=server.port, user=user, password=PASSWORD, dbname="veil", autocommit=True)


def rows(server: VeilServer, user: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with connect(server, user) as connection:
        return connection.execute(sql, params or None).fetchall()


def flatten(result: list[tuple[object, ...]]) -> set[str]:
    return {str(value) for row in result for value in row}


SHAPES = [
    "SELECT * FROM transactions",
    "SELECT card_number, email FROM transactions WHERE card_number LIKE '4%' OR card_number IS NOT NULL",
    "SELECT t.card_number, c.name FROM transactions t JOIN countries c ON c.code = t.country",
    "SELECT card_number, count(*) FROM transactions GROUP BY card_number ORDER BY 1",
    "SELECT DISTINCT email FROM transactions ORDER BY email",
    "SELECT card_number, row_number() OVER (PARTITION BY country ORDER BY card_number) FROM transactions",
    "SELECT * FROM (SELECT card_number AS c FROM transactions) s WHERE c IS NOT NULL",
    "WITH x AS (SELECT email, card_number FROM transactions) SELECT * FROM x",
    "SELECT c.code, l.card_number FROM countries c CROSS JOIN LATERAL (SELECT card_number FROM transactions t WHERE t.country = c.code) l",
    "SELECT card_number FROM transactions UNION ALL SELECT email FROM transactions",
    "SELECT max(card_number), min(email), string_agg(card_number, ',') FROM transactions",
    "SELECT card_number FROM transactions WHERE card_number IN (SELECT card_number FROM transactions)",
]


@pytest.mark.parametrize("sql", SHAPES)
def test_analyst_never_sees_raw_values_or_hidden_rows(server: VeilServer, sql: str) -> None:
    seen = flatten(rows(server, "analyst", sql))
    assert not seen & RAW_CARDS, "raw card numbers leaked"
    assert not seen & RAW_EMAILS, "raw e-mail addresses leaked"
    assert not any("de.example" in value for value in seen), "rows of a hidden country leaked"


def test_analyst_rows_are_filtered_and_masked(server: VeilServer) -> None:
    result = rows(server, "analyst", "SELECT id, customer, card_number, email, country FROM transactions ORDER BY id")
    assert [r[0] for r in result] == [1, 2, 3]  # US/CA only, and row 6 is older than a year
    assert all(r[1] is None for r in result)  # generic PII mask: NULL
    assert [r[3] for r in result] == ["***@us.example", "***@us.example", "***@ca.example"]  # deeper tag wins
    assert result[0][2] == sha256(f"{HASH_KEY}:4111111111111111".encode()).hexdigest()


def test_fraud_sees_raw_values_within_time_window(server: VeilServer) -> None:
    result = rows(server, "fraud", "SELECT id, card_number, country FROM transactions ORDER BY id")
    assert [r[0] for r in result] == [1, 2, 3, 4, 5]
    assert result[3][1] == "6011000990139424"


def test_user_without_attribute_sees_no_rows(server: VeilServer) -> None:
    assert rows(server, "nocountry", "SELECT count(*) FROM transactions") == [(0,)]


def test_hidden_rows_never_evaluate_user_predicates(server: VeilServer) -> None:
    # Row 5 (DE, amount 0) is hidden from the analyst: a division by its amount must not run.
    result = rows(server, "analyst", "SELECT count(*) FROM transactions WHERE 100 / amount > 0")
    assert result == [(3,)]
    result = rows(server, "analyst", "SELECT count(*) FROM transactions WHERE CASE WHEN country = 'DE' THEN 1 / (id - id) ELSE 1 END = 1")
    assert result == [(3,)]


def test_masked_values_are_what_predicates_see(server: VeilServer) -> None:
    assert rows(server, "analyst", "SELECT count(*) FROM transactions WHERE card_number = %s", ("4111111111111111",)) == [(0,)]
    assert rows(server, "analyst", "SELECT count(*) FROM transactions WHERE email LIKE 'ann%'") == [(0,)]


def test_unsubscribed_user_sees_no_tables(server: VeilServer) -> None:
    with connect(server, "intern") as connection:
        with pytest.raises(psycopg.errors.UndefinedTable):
            connection.execute("SELECT * FROM transactions")
        tables = connection.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'sales'").fetchall()
        assert tables == []


def test_hidden_table_absent_for_analyst(server: VeilServer) -> None:
    with connect(server, "analyst") as connection:
        with pytest.raises(psycopg.errors.UndefinedTable) as info:
            connection.execute("SELECT * FROM hr.salaries")
        assert "salaries" in str(info.value)
        names = {r[0] for r in connection.execute("SELECT relname FROM pg_catalog.pg_class WHERE relkind = 'r'").fetchall()}
        assert "salaries" not in names and "transactions" in names


def test_errors_do_not_quote_protected_values(server: VeilServer) -> None:
    with connect(server, "analyst") as connection:
        with pytest.raises(psycopg.Error) as info:
            connection.execute("SELECT CAST(card_number AS INTEGER) FROM transactions")
        message = str(info.value)
        assert not any(card in message for card in RAW_CARDS)


def test_catalog_shows_masked_types(server: VeilServer) -> None:
    with connect(server, "analyst") as connection:
        result = dict(connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'transactions'"
        ).fetchall())
    assert result["card_number"] == "text"
    assert result["amount"] == "numeric"


def test_admin_sees_audit_with_policies(server: VeilServer) -> None:
    rows(server, "analyst", "SELECT card_number FROM transactions")
    audit = rows(server, "root", "SELECT \"user\", statement, policies FROM veil.audit WHERE \"user\" = 'analyst'")
    assert any("Hash cards" in str(r[2]) for r in audit)
    with connect(server, "analyst") as connection, pytest.raises(psycopg.errors.UndefinedTable):
        connection.execute("SELECT * FROM veil.audit")


def test_admin_views_take_parameters(server: VeilServer) -> None:
    rows(server, "analyst", "SELECT card_number FROM transactions")
    # psycopg sends $1/$2 with type OID 0 (unknown): Veil types them from where they appear.
    found = rows(
        server, "root",
        "SELECT \"user\", rows FROM veil.audit WHERE \"user\" = %s AND rows >= %s AND statement LIKE %s",
        ("analyst", 0, "SELECT card_number%"),
    )
    assert found and {user for user, _ in found} == {"analyst"}
    assert rows(server, "root", "SELECT count(*) FROM veil.audit WHERE \"user\" = %s", ("nobody",)) == [(0,)]
    with connect(server, "root") as connection:
        described = connection.cursor().execute(
            "SELECT rows FROM veil.audit WHERE rows > %s LIMIT %s", (0, 1), prepare=True
        )
        assert [column.name for column in described.description] == ["rows"]
    with connect(server, "analyst") as connection, pytest.raises(psycopg.errors.UndefinedTable):
        connection.execute("SELECT * FROM veil.audit WHERE \"user\" = %s", ("analyst",))
