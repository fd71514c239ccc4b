"""The engine applies discovered tags: policies on Discovered.* mask untagged columns, the config
wins over discovery, rejected tags do not apply, and new statements (also prepared ones) see
tag changes."""

from __future__ import annotations

from hashlib import sha256
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from veil.api import SessionInfo
from veil.config import parse_config
from veil.discovery.run import DiscoverySettings, run_discovery
from veil.engine.engine import QueryEngine
from veil.state.tagstore import TagStore

HASH_KEY = "engine-tags-key"
CARDS = ["4111111111111111", "5500000000000004", "378282246310005", "6011111111111117"]


@pytest.fixture()
def engine(tmp_path: Path):
    path = tmp_path / "warehouse.duckdb"
    connection = duckdb.connect(str(path))
    connection.execute("CREATE SCHEMA sales")
    connection.execute("CREATE TABLE sales.payments (id INTEGER, card_number VARCHAR, email VARCHAR)")
    connection.executemany(
        "INSERT INTO sales.payments VALUES (?, ?, ?)",
        [(i, CARDS[i % 4], f"user{i}@example.com") for i in range(40)],
    )
    connection.close()
    config = parse_config({
        "state_dir": str(tmp_path / "state"),
        "secrets": {"hash_key": HASH_KEY},
        "connections": {"w": {"type": "duckdb", "path": str(path), "latency": 0}},
        "tables": {"w.sales.payments": {"tags": {"email": ["PII.Email"]}}},
        "users": {"alice": {}},
        "policies": [
            {"name": "read", "subscription": {"tables": ["*"], "allow": "everyone"}},
            {"name": "Hash discovered cards", "mask": {"column_tags": ["Discovered.Entity.CreditCardNumber"], "with": "hash"}},
            {"name": "Hash discovered emails", "mask": {"column_tags": ["Discovered.Entity.EmailAddress"], "with": "hash"}},
            {"name": "Email domain", "mask": {"column_tags": ["PII.Email"], "with": "email_domain"}},
        ],
    })
    engine = QueryEngine(config)
    yield engine
    engine.close()


def discover(engine: QueryEngine) -> None:
    with TagStore.open(engine.config.state_dir) as store:
        run_discovery(engine.catalog, engine.config, list(engine.catalog.snapshot), DiscoverySettings(), store)


def payments(engine: QueryEngine):
    return next(iter(engine.catalog.snapshot))


async def query(engine: QueryEngine, prepared=None) -> tuple[object, pa.Table]:
    session = engine.open_session(SessionInfo(user="alice", database="veil"))
    if prepared is None:
        prepared = await session.prepare("SELECT card_number, email FROM sales.payments ORDER BY id", [])
    stream = await session.execute(prepared, [])
    batches = [batch async for batch in stream]
    await stream.close()
    return prepared, pa.Table.from_batches(batches)


def test_discovered_tags_select_masks_and_config_wins(engine: QueryEngine) -> None:
    table = payments(engine)
    assert engine.table_policy(engine.user("alice"), table).masks.keys() == {"email"}
    before = engine.generation
    discover(engine)
    engine.refresh_tags(force=True)
    assert engine.generation > before
    masks = engine.table_policy(engine.user("alice"), table).masks
    assert masks["card_number"].policy == "Hash discovered cards" and masks["card_number"].discovered
    # email carries an admin tag: its mask stays the config's, though discovery found an e-mail.
    assert masks["email"].policy == "Email domain" and not masks["email"].discovered
    assert "Discovered.Entity.EmailAddress" in engine.discovered_tags(table)["email"]


def test_rejected_tags_do_not_apply(engine: QueryEngine) -> None:
    discover(engine)
    with TagStore.open(engine.config.state_dir) as store:
        store.reject("w.sales.payments", "card_number", "Discovered.Entity.CreditCardNumber")
    discover(engine)
    engine.refresh_tags(force=True)
    assert "card_number" not in engine.table_policy(engine.user("alice"), payments(engine)).masks


async def test_statements_and_prepared_statements_see_new_tags(engine: QueryEngine) -> None:
    prepared, raw = await query(engine)
    assert raw.column("card_number").to_pylist()[:4] == CARDS
    assert raw.column("email").to_pylist()[0] == "***@example.com"
    discover(engine)
    engine.tags.gate.expire()  # as if a second had passed since the last check
    _, hashed = await query(engine, prepared)
    expected = sha256(f"{HASH_KEY}:{CARDS[0]}".encode()).hexdigest()
    assert hashed.column("card_number").to_pylist()[0] == expected
    assert not set(CARDS) & set(hashed.column("card_number").to_pylist())
    _, fresh = await query(engine)
    assert fresh.column("card_number").to_pylist()[0] == expected


def test_explain_names_policies_selected_by_discovered_tags(engine: QueryEngine) -> None:
    from veil.policy.resolve import why_not_applied

    discover(engine)
    engine.refresh_tags(force=True)
    table = payments(engine)
    policy = next(p for p in engine.config.policies if p.name == "Hash discovered cards")
    assert why_not_applied(engine.user("alice"), table, policy, None) is not None
    assert why_not_applied(engine.user("alice"), table, policy, None, engine.discovered_tags(table)) is None
