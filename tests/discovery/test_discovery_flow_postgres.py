"""The "policy downtime" flow on PostgreSQL, end to end through `veil serve`:

sync finds a new column → it is flagged New and masked with NULL by "New Column Added" →
discovery (run by the sync) tags it → after `veil approve` the discovered tag's policy applies.
A new table found by a sync is protected by tag policies from its first query.
"""

from __future__ import annotations

from hashlib import sha256
from pathlib import Path

import pytest

from tests.catalog.support import (
    ddl,
    eventually,
    rows,
    veil,
)
from tests.config.support import users_and_policies
from tests.conftest import postgres_connection, scratch_database, start_server, stop_server

HASH_KEY = "discovery-flow-key"
CARD_TAG = "Discovered.Entity.CreditCardNumber"
CARDS = ["4111111111111111", "5500000000000004", "378282246310005", "6011111111111117", "4012888888881881"]
CARD_SQL = "(ARRAY['" + "','".join(CARDS) + "'])[1 + id % 5]"


def hashed(card: str) -> str:
    return sha256(f"{HASH_KEY}:{card}".encode()).hexdigest()


@pytest.fixture()
def dsn(postgres_dsn: str) -> str:
    dsn = scratch_database(postgres_dsn, "veil_discovery_flow")
    ddl(
        dsn,
        "CREATE SCHEMA crm",
        "CREATE TABLE crm.customers AS SELECT id, 'person' || id || '@example.org' AS email "
        "FROM generate_series(0, 49) AS t(id)",
    )
    return dsn


def config(dsn: str, state_dir: Path) -> dict[str, object]:
    base = users_and_policies()
    base["policies"].append({"name": "Hash discovered cards", "mask": {"column_tags": [CARD_TAG], "with": "hash"}})
    return {
        "server": {"host": "127.0.0.1", "port": 0},
        "state_dir": str(state_dir),
        "secrets": {"hash_key": HASH_KEY},
        "connections": {"pg": postgres_connection(dsn, latency=0)},
        **base,
    }


def test_new_column_is_discovered_masked_until_approved_then_tag_policy_applies(dsn: str, tmp_path: Path) -> None:
    process, server = start_server(tmp_path, config(dsn, tmp_path / "state"))
    try:
        ddl(dsn, "ALTER TABLE crm.customers ADD COLUMN card_number text", f"UPDATE crm.customers SET card_number = {CARD_SQL}")
        synced = veil("sync", "-c", str(server.config_path))
        assert synced.returncode == 0, synced.stderr
        assert "column_added" in synced.stdout and CARD_TAG in synced.stdout
        query = "SELECT card_number FROM crm.customers ORDER BY id LIMIT 5"
        eventually(lambda: rows(server, query) == [(None,)] * 5)  # New Column Added beats every mask
        approved = veil("approve", "-c", str(server.config_path), "crm.customers.card_number")
        assert approved.returncode == 0, approved.stderr
        eventually(lambda: rows(server, query) == [(hashed(card),) for card in CARDS])
        assert rows(server, "SELECT email FROM crm.customers WHERE id = 1") == [("person1@example.org",)]
    finally:
        stop_server(process)


def test_new_table_is_protected_from_its_first_query(dsn: str, tmp_path: Path) -> None:
    process, server = start_server(tmp_path, config(dsn, tmp_path / "state"))
    try:
        ddl(dsn, f"CREATE TABLE crm.payments AS SELECT id, {CARD_SQL} AS pan FROM generate_series(0, 99) AS t(id)")
        changes = rows(server, "SELECT kind, object FROM veil.sync('pg')", "root")
        assert ("table_added", "pg.crm.payments") in changes
        first = rows(server, "SELECT pan FROM crm.payments ORDER BY id LIMIT 5")
        assert first == [(hashed(card),) for card in CARDS]
    finally:
        stop_server(process)
