"""Keys of a PostgreSQL source (#13): primary keys, unique constraints and foreign keys between
served tables, and table comments, as real clients read them through Veil, compared with the
same clients reading PostgreSQL directly; a foreign key to a table the user cannot see is not
served at all; a changed key is reported by sync."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import sqlalchemy
from psycopg.conninfo import conninfo_to_dict

from tests.catalog.support import compile_java, ddl, private_database, write_config
from tests.catalog.support import veil as veil_cli
from tests.conftest import (
    PASSWORDS,
    VeilServer,
    postgres_connection,
    require_tool,
    start_server,
    stop_server,
)
from veil.catalog.registry import open_source
from veil.catalog.sync import COLUMN_TYPE_CHANGED, TABLE_KEYS_CHANGED, sync_connections
from veil.config import parse_config
from veil.proxy.auth import make_scram_verifier

DATABASE = "veil_pg_keys"
SCHEMA = [
    "CREATE SCHEMA shop",
    "CREATE TABLE shop.customers (id int PRIMARY KEY, email text NOT NULL, CONSTRAINT customers_email_key UNIQUE (email))",
    "CREATE TABLE shop.secrets (id int PRIMARY KEY, note text)",
    ("CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer_id int NOT NULL REFERENCES shop.customers (id) "
     "ON DELETE CASCADE, secret_id int REFERENCES shop.secrets (id), code text, region text, "
     "UNIQUE (region, code))"),
    "COMMENT ON TABLE shop.orders IS 'one row per order'",
]


@dataclass
class Shop:
    server: VeilServer
    dsn: str
    directory: Path


@pytest.fixture(scope="module")
def shop(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    directory = tmp_path_factory.mktemp("pg_keys")
    with private_database(postgres_dsn, DATABASE) as dsn:
        ddl(dsn, *SCHEMA)
        config = {
            "server": {"host": "127.0.0.1", "port": 0},
            "secrets": {"hash_key": "keys-key"},
            "connections": {"pg": postgres_connection(dsn, population={"schemas": ["shop"]})},
            "users": {
                "alice": {"password": make_scram_verifier(PASSWORDS["alice"]), "groups": ["Finance"]},
                "bob": {"password": make_scram_verifier(PASSWORDS["bob"]), "groups": ["Sales"]},
            },
            "policies": [
                {"name": "Shop", "subscription": {"tables": ["shop.customers", "shop.orders"], "allow": "everyone"}},
                {"name": "Secrets", "subscription": {"tables": ["shop.secrets"], "allow": {"groups": ["Finance"]}}},
            ],
        }
        process, server = start_server(directory, config)
        try:
            yield Shop(server, dsn, directory)
        finally:
            stop_server(process)


def _engine(dsn: str) -> sqlalchemy.Engine:
    return sqlalchemy.create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn))


def _inspect(dsn: str, table: str) -> dict[str, object]:
    engine = _engine(dsn)
    try:
        inspector = sqlalchemy.inspect(engine)
        return {
            "pk": inspector.get_pk_constraint(table, schema="shop"),
            "fks": sorted(inspector.get_foreign_keys(table, schema="shop"), key=lambda f: f["name"]),
            "uniques": sorted(inspector.get_unique_constraints(table, schema="shop"), key=lambda u: u["name"]),
            "indexes": sorted(inspector.get_indexes(table, schema="shop"), key=lambda i: i["name"]),
            "comment": inspector.get_table_comment(table, schema="shop"),
        }
    finally:
        engine.dispose()


@pytest.mark.parametrize("table", ["orders", "customers", "secrets"])
def test_sqlalchemy_inspects_the_same_keys_as_postgresql(shop: Shop, table: str) -> None:
    assert _inspect(shop.server.dsn("alice"), table) == _inspect(shop.dsn, table)


def test_sqlalchemy_sees_the_keys(shop: Shop) -> None:
    found = _inspect(shop.server.dsn("alice"), "orders")
    assert found["pk"]["constrained_columns"] == ["id"] and found["pk"]["name"] == "orders_pkey"  # type: ignore[index]
    assert [(f["name"], f["referred_table"], f["constrained_columns"]) for f in found["fks"]] == [  # type: ignore[index]
        ("orders_customer_id_fkey", "customers", ["customer_id"]),
        ("orders_secret_id_fkey", "secrets", ["secret_id"]),
    ]
    assert found["comment"] == {"text": "one row per order"}


def test_a_foreign_key_to_an_invisible_table_is_not_served(shop: Shop) -> None:
    found = _inspect(shop.server.dsn("bob"), "orders")
    assert [f["name"] for f in found["fks"]] == ["orders_customer_id_fkey"]  # type: ignore[union-attr]
    assert found["pk"]["name"] == "orders_pkey"  # type: ignore[index]
    with psycopg.connect(shop.server.dsn("bob")) as connection:
        leaks = connection.execute(
            "SELECT conname FROM pg_catalog.pg_constraint WHERE conname LIKE '%secret%' "
            "UNION ALL SELECT relname FROM pg_catalog.pg_class WHERE relname LIKE '%secret%' "
            "UNION ALL SELECT constraint_name FROM information_schema.table_constraints "
            "WHERE constraint_name LIKE '%secret%' OR table_name = 'secrets' "
            "UNION ALL SELECT table_name FROM information_schema.constraint_column_usage WHERE table_name = 'secrets' "
            "UNION ALL SELECT constraint_name FROM information_schema.referential_constraints "
            "WHERE constraint_name LIKE '%secret%' "
            "UNION ALL SELECT constraint_name FROM information_schema.key_column_usage WHERE column_name = 'secret_id'"
        ).fetchall()
        assert leaks == []
        kinds = connection.execute(
            "SELECT conname, contype FROM pg_catalog.pg_constraint ORDER BY conname"
        ).fetchall()
        assert ("orders_customer_id_fkey", "f") in kinds and ("customers_pkey", "p") in kinds


INFO_SCHEMA = [
    ("SELECT constraint_schema, constraint_name, table_name, constraint_type, is_deferrable, initially_deferred "
     "FROM information_schema.table_constraints WHERE table_schema = 'shop' AND constraint_type <> 'CHECK' "
     "ORDER BY constraint_name"),
    ("SELECT constraint_name, table_name, column_name, ordinal_position, position_in_unique_constraint "
     "FROM information_schema.key_column_usage WHERE table_schema = 'shop' ORDER BY constraint_name, ordinal_position"),
    ("SELECT constraint_name, unique_constraint_schema, unique_constraint_name, match_option, update_rule, delete_rule "
     "FROM information_schema.referential_constraints WHERE constraint_schema = 'shop' ORDER BY constraint_name"),
    ("SELECT table_name, column_name, constraint_name FROM information_schema.constraint_column_usage "
     "WHERE table_schema = 'shop' ORDER BY constraint_name, column_name"),
    "SELECT indexname, indexdef FROM pg_catalog.pg_indexes WHERE schemaname = 'shop' ORDER BY indexname",
    ("SELECT conname, pg_catalog.pg_get_constraintdef(oid, true) FROM pg_catalog.pg_constraint "
     "WHERE connamespace = 'shop'::regnamespace ORDER BY conname"),
    ("SELECT c.relname, i.indisprimary, i.indisunique, i.indkey FROM pg_catalog.pg_index i "
     "JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'shop'::regnamespace ORDER BY 1"),
    "SELECT pg_catalog.obj_description('shop.orders'::regclass, 'pg_class')",
]


@pytest.mark.parametrize("sql", INFO_SCHEMA)
def test_catalog_and_information_schema_match_postgresql(shop: Shop, sql: str) -> None:
    with psycopg.connect(shop.dsn) as direct, psycopg.connect(shop.server.dsn("alice")) as veil:
        assert veil.execute(sql).fetchall() == direct.execute(sql).fetchall()


def _psql(dsn: str, command: str) -> str:
    psql = require_tool("psql")
    result = subprocess.run([psql, dsn, "-X", "-c", command], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _sections(output: str) -> str:
    """psql's ``\\d`` footer from its "Indexes:" line on."""
    return output[output.index("Indexes:"):]


@pytest.mark.parametrize("table", ["shop.orders", "shop.customers"])
def test_psql_describe_lists_indexes_and_foreign_keys_like_postgresql(shop: Shop, table: str) -> None:
    veil = _psql(shop.server.dsn("alice"), f"\\d {table}")
    assert "Indexes:" in veil
    assert _sections(veil) == _sections(_psql(shop.dsn, f"\\d {table}"))


def test_psql_describe_for_a_user_who_cannot_see_the_referenced_table(shop: Shop) -> None:
    veil = _psql(shop.server.dsn("bob"), "\\d shop.orders")
    assert 'FOREIGN KEY (customer_id) REFERENCES shop.customers(id) ON DELETE CASCADE' in veil
    assert "secrets" not in veil


def _syncer(dsn: str, state: Path) -> Callable[[], list[tuple[str, str, str]]]:
    """Object sync of the ``shop`` schema of ``dsn``: each call syncs and returns the changes found."""
    config = parse_config({
        "state_dir": str(state),
        "connections": {"pg": postgres_connection(dsn, population={"schemas": ["shop"]})},
    })

    def sync() -> list[tuple[str, str, str]]:
        source = open_source("pg", config.connections["pg"])
        try:
            results = sync_connections(config, {"pg": source}, None, "test")
        finally:
            source.close()
        return [(c.kind, c.object, c.detail) for r in results for c in r.changes]

    return sync


def test_sync_reports_a_changed_key(postgres_dsn: str, tmp_path: Path) -> None:
    with private_database(postgres_dsn, DATABASE + "_sync") as dsn:
        ddl(dsn, *SCHEMA)
        sync = _syncer(dsn, tmp_path / "state")
        sync()
        assert sync() == []
        ddl(dsn, "ALTER TABLE shop.orders DROP CONSTRAINT orders_secret_id_fkey",
            "ALTER TABLE shop.customers DROP CONSTRAINT customers_email_key",
            "ALTER TABLE shop.customers ADD CONSTRAINT customers_email_key UNIQUE (id, email)")
        assert sorted(sync()) == [
            (TABLE_KEYS_CHANGED, "pg.shop.customers",
             "customers_email_key UNIQUE (email) -> customers_email_key UNIQUE (id, email)"),
            (TABLE_KEYS_CHANGED, "pg.shop.orders",
             "dropped orders_secret_id_fkey FOREIGN KEY (secret_id) REFERENCES shop.secrets(id)"),
        ]
        assert sync() == []


JDBC_SOURCE = Path(__file__).parents[2] / "clients" / "java" / "VeilJdbcKeys.java"


@pytest.fixture(scope="module")
def jdbc_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    return compile_java(JDBC_SOURCE, tmp_path_factory.mktemp("jdbc_keys"))


def _jdbc(build: tuple[str, Path, Path], host: str, port: int, database: str, user: str, password: str) -> list[str]:
    java, jar, classes = build
    url = f"jdbc:postgresql://{host}:{port}/{database}?sslmode=disable"
    ran = subprocess.run(
        [java, "-Duser.timezone=UTC", "-cp", f"{jar}{os.pathsep}{classes}", "VeilJdbcKeys", url, user, password,
         "shop", "orders", "customers"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.splitlines()


def _without_catalog(lines: list[str], database: str) -> list[str]:
    """pgJDBC reports the database name as the catalog (``veil`` against Veil)."""
    return [line.replace(f"_cat={database}", "_cat=db").replace(f"CAT={database}", "CAT=db") for line in lines]


def test_jdbc_reports_the_same_keys_as_postgresql(shop: Shop, jdbc_keys: tuple[str, Path, Path]) -> None:
    params = conninfo_to_dict(shop.dsn)
    direct = _jdbc(jdbc_keys, str(params.get("host", "127.0.0.1")), int(params.get("port", 5432)),
                   str(params["dbname"]), str(params.get("user", "postgres")), str(params.get("password", "")))
    veil = _jdbc(jdbc_keys, shop.server.host, shop.server.port, "veil", "alice", PASSWORDS["alice"])
    assert any(line.startswith("imported_keys orders") and "pktable_name=secrets" in line for line in veil)
    assert _without_catalog(veil, "veil") == _without_catalog(direct, str(params["dbname"]))
    hidden = _jdbc(jdbc_keys, shop.server.host, shop.server.port, "veil", "bob", PASSWORDS["bob"])
    assert [line for line in hidden if "secret" in line] == []
    assert any(line.startswith("imported_keys orders") and "pktable_name=customers" in line for line in hidden)


def test_veil_check_refuses_a_mask_that_does_not_fit_the_source_type(postgres_dsn: str, tmp_path: Path) -> None:
    with private_database(postgres_dsn, DATABASE + "_masks") as dsn:
        ddl(dsn, *SCHEMA)
        config = {
            "state_dir": str(tmp_path / "state"),
            "connections": {"pg": postgres_connection(dsn, population={"schemas": ["shop"]})},
            "tables": {"pg.shop.orders": {"tags": {"customer_id": ["PII.Email"]}}},
            "policies": [
                {"name": "Round codes", "mask": {"tables": ["shop.orders"], "columns": ["code"], "with": "round"}},
                {"name": "Email domain", "mask": {"column_tags": ["PII.Email"], "with": "email_domain"}},
                {"name": "Fine", "mask": {"tables": ["shop.customers"], "columns": ["email"], "with": "email_domain"}},
            ],
        }
        checked = veil_cli("check", "-c", str(write_config(tmp_path, config)))
    assert checked.returncode == 1, checked.stdout
    assert "policies[0].mask.with: cannot mask pg.shop.orders.code: `round` with `digits` rounds numbers, not text" \
        in checked.stderr
    assert "policies[1].mask.with: cannot mask pg.shop.orders.customer_id: `email_domain` masks text, not integer" \
        in checked.stderr
    assert "policies[2]" not in checked.stderr


def test_sync_reports_a_column_moved_to_another_enum_or_domain_or_one_recreated(postgres_dsn: str, tmp_path: Path) -> None:
    with private_database(postgres_dsn, DATABASE + "_types") as dsn:
        ddl(dsn, "CREATE SCHEMA shop", "CREATE TYPE shop.mood AS ENUM ('sad', 'happy')",
            "CREATE TYPE shop.mood2 AS ENUM ('sad', 'happy')", "CREATE DOMAIN shop.posint AS integer CHECK (VALUE > 0)",
            "CREATE TYPE shop.point2 AS (x int)",
            "CREATE TABLE shop.feelings (id int PRIMARY KEY, m shop.mood, d shop.posint, p shop.point2)")
        sync = _syncer(dsn, tmp_path / "state")
        sync()
        assert sync() == []
        ddl(dsn, "ALTER TABLE shop.feelings ALTER COLUMN m TYPE shop.mood2 USING m::text::shop.mood2",
            "ALTER TABLE shop.feelings ALTER COLUMN d TYPE integer")
        assert sorted(sync()) == [
            (COLUMN_TYPE_CHANGED, "pg.shop.feelings.d", "integer (shop.posint) -> integer"),
            (COLUMN_TYPE_CHANGED, "pg.shop.feelings.m", "shop.mood ('sad', 'happy') -> shop.mood2 ('sad', 'happy')"),
        ]
        assert sync() == []
        # The enum and the domain dropped and created again under the same names, with other
        # labels and another base type.
        ddl(dsn, "ALTER TABLE shop.feelings ALTER COLUMN m TYPE text", "DROP TYPE shop.mood2",
            "CREATE TYPE shop.mood2 AS ENUM ('calm', 'cross', 'sad')",
            "ALTER TABLE shop.feelings ALTER COLUMN m TYPE shop.mood2 USING m::shop.mood2")
        assert sync() == [
            (COLUMN_TYPE_CHANGED, "pg.shop.feelings.m",
             "shop.mood2 ('sad', 'happy') -> shop.mood2 ('calm', 'cross', 'sad')"),
        ]
        ddl(dsn, "ALTER TABLE shop.feelings ALTER COLUMN d TYPE shop.posint")
        assert sync() == [(COLUMN_TYPE_CHANGED, "pg.shop.feelings.d", "integer -> integer (shop.posint)")]
        ddl(dsn, "ALTER TABLE shop.feelings ALTER COLUMN d TYPE integer", "DROP DOMAIN shop.posint",
            "CREATE DOMAIN shop.posint AS bigint CHECK (VALUE > 0)",
            "ALTER TABLE shop.feelings ALTER COLUMN d TYPE shop.posint")
        assert sync() == [
            (COLUMN_TYPE_CHANGED, "pg.shop.feelings.d", "integer (shop.posint) -> bigint (shop.posint)"),
        ]
        # A field added to the composite type, a label to the enum: clients read both from the catalog.
        ddl(dsn, "ALTER TYPE shop.point2 ADD ATTRIBUTE y numeric(4,1)")
        assert sync() == [
            (COLUMN_TYPE_CHANGED, "pg.shop.feelings.p", "shop.point2 (x integer) -> shop.point2 (x integer, y numeric(4,1))"),
        ]
        # A label added to the enum is reported too: clients read the labels from pg_enum.
        ddl(dsn, "ALTER TYPE shop.mood2 ADD VALUE 'glad' BEFORE 'calm'")
        assert sync() == [
            (COLUMN_TYPE_CHANGED, "pg.shop.feelings.m",
             "shop.mood2 ('calm', 'cross', 'sad') -> shop.mood2 ('glad', 'calm', 'cross', 'sad')"),
        ]
        assert sync() == []
