"""Function calls that reach past Veil's policies, on a real DuckDB source and a real
PostgreSQL source behind a running Veil server (psycopg as the client).

Each attack names a table the user may read, so the statement is pushed to that table's source,
and smuggles a function that would run SQL of its own (``json_execute_serialized_sql``,
``query``), read a relation or file by name (``query_table``, ``read_csv``, ``pg_read_file``),
change the pooled session (``set_config``) or reveal the rewritten statement with its hash key
(``current_query``). Every one must fail with 42501 naming the function, and nothing the user may
not see (raw card numbers, raw e-mails, other countries' rows, the hash key) may appear in a
result or an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.conftest import VeilServer, postgres_connection, scratch_database, start_server, stop_server
from veil.proxy.auth import make_scram_verifier

PASSWORD = "s3cret-pass"
HASH_KEY = "function-attack-hash-key"
DATABASE = "veil_security_functions"
ROWS = [
    (1, "4111111111111111", "ada@example.com", "DE", 10),
    (2, "5500005555555559", "bob@example.com", "FR", 20),
    (3, "340000000000009", "cyd@example.com", "US", 30),
    (4, "6011000990139424", "dan@example.com", "DE", 40),
]
RAW = [r[1] for r in ROWS] + [r[2] for r in ROWS]
OTHER_COUNTRIES = ("FR", "US")


def write_duckdb(path: Path) -> None:
    connection = duckdb.connect(str(path))
    connection.execute("CREATE SCHEMA sales")
    connection.execute(
        "CREATE TABLE sales.transactions (id INT, card_number VARCHAR, email VARCHAR, country VARCHAR, amount INT)"
    )
    connection.executemany("INSERT INTO sales.transactions VALUES (?, ?, ?, ?, ?)", ROWS)
    connection.execute("CREATE TABLE sales.stats (day INT, visits INT)")
    connection.execute("INSERT INTO sales.stats VALUES (1, 100)")
    connection.close()


def write_postgres(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE SCHEMA shop")
        connection.execute(
            "CREATE TABLE shop.orders (id int, card_number text, email text, country text, amount int)"
        )
        connection.execute("CREATE TABLE shop.stats (day int, visits int)")
        connection.execute("INSERT INTO shop.stats VALUES (1, 100)")
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO shop.orders VALUES (%s, %s, %s, %s, %s)", ROWS)


def config(duckdb_path: Path, pg: dict[str, object]) -> dict[str, object]:
    pii = {"tags": {"card_number": ["PII.Card"], "email": ["PII.Email"]}}
    user = {"password": make_scram_verifier(PASSWORD)}
    return {
        "server": {"host": "127.0.0.1", "port": 0, "search_path": "sales, shop, public"},
        "secrets": {"hash_key": HASH_KEY},
        "connections": {
            "duck": {"type": "duckdb", "path": str(duckdb_path), "latency": 0},
            "pg": {**pg, "latency": 0},
        },
        "tables": {"duck.sales.transactions": pii, "pg.shop.orders": pii},
        "users": {
            "analyst": {**user, "groups": ["Analytics"]},
            # Subscribed to the harmless stats tables only, on the same sources.
            "outsider": {**user, "groups": ["Visitors"]},
        },
        "policies": [
            {"name": "Analysts", "subscription": {"tables": ["*"], "allow": {"groups": ["Analytics"]}}},
            {"name": "Visitors", "subscription": {"tables": ["duck.sales.stats", "pg.shop.stats"],
                                                  "allow": {"groups": ["Visitors"]}}},
            {"name": "Cards", "mask": {"column_tags": ["PII.Card"], "with": "show_last", "n": 4}},
            {"name": "E-mails", "mask": {"column_tags": ["PII.Email"], "with": "hash"}},
            {"name": "Germany only", "row_filter": {"tables": ["duck.sales.transactions", "pg.shop.orders"],
                                                     "where": "country = 'DE'"}},
        ],
    }


@dataclass
class Veil:
    server: VeilServer

    def rows(self, sql: str, user: str = "analyst") -> list[tuple[object, ...]]:
        with psycopg.connect(**self.server.kwargs(user, PASSWORD), autocommit=True) as connection:
            return connection.execute(sql).fetchall()

    def refused(self, sql: str, user: str = "analyst") -> str:
        """The 42501 message of ``sql``; fails if it returned rows or failed otherwise."""
        with psycopg.connect(**self.server.kwargs(user, PASSWORD), autocommit=True) as connection:
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as raised:
                rows = connection.execute(sql).fetchall()
                assert_nothing_hidden(rows)
            message = str(raised.value)
            assert_nothing_hidden([(message,)])
            # The session and the server keep working after the refusal.
            assert connection.execute("SELECT 1").fetchone() == (1,)
            return message


def assert_nothing_hidden(rows: list[tuple[object, ...]]) -> None:
    text = repr(rows)
    for value in RAW:
        assert value not in text, f"raw value {value} leaked"
    assert HASH_KEY not in text, "the hash key leaked"
    for country in OTHER_COUNTRIES:
        assert f"'{country}'" not in text, f"a row of {country} leaked"


@pytest.fixture(scope="module")
def veil(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Veil]:
    directory = tmp_path_factory.mktemp("function_attacks")
    dsn = scratch_database(postgres_dsn, DATABASE)
    write_postgres(dsn)
    write_duckdb(directory / "warehouse.duckdb")
    process, server = start_server(directory, config(directory / "warehouse.duckdb", postgres_connection(dsn)))
    try:
        yield Veil(server)
    finally:
        stop_server(process)


def test_the_analyst_sees_masked_german_rows_only(veil: Veil) -> None:
    """The control: the policies work, so the refusals below are what stops the attacks."""
    for table in ("transactions", "orders"):
        rows = veil.rows(f"SELECT id, card_number, email, country FROM {table} ORDER BY id")
        assert [r[0] for r in rows] == [1, 4]
        assert {r[3] for r in rows} == {"DE"}
        assert [r[1] for r in rows] == ["************1111", "************9424"]
        assert_nothing_hidden(rows)


SERIALIZED = "json_serialize_sql('SELECT card_number, email, country FROM sales.transactions')"


@pytest.mark.parametrize("user,visible", [("analyst", "transactions"), ("outsider", "stats")])
def test_json_execute_serialized_sql_is_refused(veil: Veil, user: str, visible: str) -> None:
    message = veil.refused(
        f"SELECT j.* FROM json_execute_serialized_sql({SERIALIZED}) j, (SELECT 1 FROM {visible} LIMIT 1) t", user
    )
    assert "json_execute_serialized_sql" in message


@pytest.mark.parametrize(
    "sql,function",
    [
        ("SELECT q.* FROM query('SELECT * FROM sales.transactions') q, (SELECT 1 FROM {t} LIMIT 1) t", "query"),
        ("SELECT q.* FROM query_table('sales.transactions') q, (SELECT 1 FROM {t} LIMIT 1) t", "query_table"),
        ("SELECT (SELECT count(*) FROM query('SELECT 1')) AS n, day FROM {t}", "query"),
        ("SELECT f.* FROM read_csv('/etc/passwd') f, (SELECT 1 FROM {t} LIMIT 1) t", "read_csv"),
        ("SELECT f.* FROM read_parquet('/tmp/x.parquet') f, (SELECT 1 FROM {t} LIMIT 1) t", "read_parquet"),
        ("SELECT getvariable('x') AS v, day FROM {t}", "getvariable"),
        ("SELECT current_setting('threads') AS v, day FROM {t}", "current_setting"),
        ("SELECT s.* FROM duckdb_settings() s, (SELECT 1 FROM {t} LIMIT 1) t", "duckdb_settings"),
    ],
)
def test_relation_file_and_session_readers_are_refused_on_duckdb(veil: Veil, sql: str, function: str) -> None:
    for user in ("analyst", "outsider"):
        message = veil.refused(sql.format(t="sales.stats"), user)
        assert function in message


def test_current_query_does_not_reveal_the_rewritten_statement(veil: Veil) -> None:
    for table in ("transactions", "orders"):
        message = veil.refused(f"SELECT current_query() AS q, id FROM {table}")
        assert "current_query" in message


@pytest.mark.parametrize(
    "sql,function",
    [
        ("SELECT pg_read_file('/etc/passwd') AS f, day FROM shop.stats", "pg_read_file"),
        ("SELECT pg_ls_dir('.') AS f, day FROM shop.stats", "pg_ls_dir"),
        ("SELECT q.* FROM query_to_xml('SELECT * FROM shop.orders', true, false, '') q, shop.stats", "query_to_xml"),
        ("SELECT table_to_xml('shop.orders', true, false, '') AS x, day FROM shop.stats", "table_to_xml"),
        ("SELECT current_setting('data_directory') AS v, day FROM shop.stats", "current_setting"),
        ("SELECT version() AS v, day FROM shop.stats", "version"),
        ("SELECT pg_sleep(5) AS v, day FROM shop.stats", "pg_sleep"),
        ("SELECT pg_advisory_lock(1) AS v, day FROM shop.stats", "pg_advisory_lock"),
        ("SELECT txid_current() AS v, day FROM shop.stats", "txid_current"),
        ("SELECT nextval('shop.s') AS v, day FROM shop.stats", "nextval"),
        ("SELECT pg_catalog.pg_read_file('/etc/passwd') AS f, day FROM shop.stats", "pg_read_file"),
    ],
)
def test_file_relation_and_server_functions_are_refused_on_postgres(veil: Veil, sql: str, function: str) -> None:
    for user in ("analyst", "outsider"):
        message = veil.refused(sql, user)
        assert function in message


def test_set_config_cannot_reach_the_next_pooled_session(veil: Veil) -> None:
    message = veil.refused("SELECT set_config('statement_timeout', '1', false) AS s, id FROM orders")
    assert "set_config" in message
    message = veil.refused("SELECT set_config('search_path', 'pg_temp', false) AS s, day FROM shop.stats", "outsider")
    assert "set_config" in message
    # The next user's statements on the same source run normally (no 1 ms timeout, same rows).
    for _ in range(3):
        rows = veil.rows("SELECT id, country FROM orders ORDER BY id")
        assert rows == [(1, "DE"), (4, "DE")]


def test_a_function_only_another_engine_knows_is_refused_for_postgres(veil: Veil) -> None:
    """list_value passes the client-side check (DuckDB allows it) but PostgreSQL's list does
    not have it: the check of the SQL produced for the source refuses it."""
    message = veil.refused("SELECT list_value(1, 2) AS l, day FROM shop.stats")
    assert "list_value" in message and "postgres" in message
