"""End to end: `veil discover` (a separate process) tags a column nobody tagged by hand, and a
running `veil serve` masks it within seconds through a global policy on the discovered tag.
A rejected tag stays rejected when discovery runs again."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from hashlib import sha256
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.conftest import VeilServer, start_server, stop_server
from veil.proxy.auth import make_scram_verifier
from veil.state.tagstore import TagStore

HASH_KEY = "discovery-e2e-key"
CARDS = ["4111111111111111", "5500000000000004", "378282246310005", "6011111111111117", "4012888888881881"]
CARD_TAG = "Discovered.Entity.CreditCardNumber"


def not_luhn(card: str, i: int) -> str:
    """A card-like order number whose check digit is wrong."""
    return card[:-1] + str((int(card[-1]) + 1 + i % 9) % 10)


def write_warehouse(path: Path) -> None:
    connection = duckdb.connect(str(path))
    connection.execute("CREATE SCHEMA sales")
    connection.execute(
        "CREATE TABLE sales.payments (id INTEGER, card_number VARCHAR, order_number VARCHAR, note VARCHAR)"
    )
    connection.executemany(
        "INSERT INTO sales.payments VALUES (?, ?, ?, ?)",
        [(i, CARDS[i % len(CARDS)], not_luhn(CARDS[i % len(CARDS)], i), f"order {i}") for i in range(500)],
    )
    connection.close()


def config(warehouse: Path, state_dir: Path) -> dict[str, object]:
    return {
        "server": {"host": "127.0.0.1", "port": 0},
        "state_dir": str(state_dir),
        "secrets": {"hash_key": HASH_KEY},
        "connections": {"warehouse": {"type": "duckdb", "path": str(warehouse), "latency": "1h"}},
        "users": {
            "alice": {"password": make_scram_verifier("alice-pw"), "groups": ["Analytics"]},
            "root": {"password": make_scram_verifier("root-pw"), "admin": True},
        },
        "policies": [
            {"name": "Analysts read sales", "subscription": {"tables": ["warehouse.sales.*"], "allow": {"groups": ["Analytics"]}}},
            {"name": "Hash discovered card numbers", "mask": {"column_tags": [CARD_TAG], "with": "hash"}},
        ],
    }


def column_tags(server: VeilServer, column: str) -> list[str]:
    with psycopg.connect(host=server.host, port=server.port, user="root", password="root-pw", dbname="veil") as pg:
        return pg.execute(f"SELECT tags FROM veil.columns WHERE \"column\" = '{column}'").fetchone()[0]


def card_numbers(server: VeilServer) -> list[str]:
    with psycopg.connect(host=server.host, port=server.port, user="alice", password="alice-pw", dbname="veil") as pg:
        return [row[0] for row in pg.execute("SELECT card_number FROM sales.payments ORDER BY id LIMIT 5")]


def veil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "veil", *args], capture_output=True, text=True, timeout=120, check=False)


def eventually(check: Callable[[], bool], seconds: float = 5.0) -> float:
    """Seconds until ``check`` holds; fails after ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check():
            return time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"condition not met within {seconds}s")


@pytest.fixture()
def server(tmp_path: Path):
    warehouse = tmp_path / "warehouse.duckdb"
    write_warehouse(warehouse)
    process, info = start_server(tmp_path, config(warehouse, tmp_path / "state"))
    try:
        yield info
    finally:
        stop_server(process)


def test_discovered_card_numbers_are_hashed_by_a_running_server(server: VeilServer, tmp_path: Path) -> None:
    assert card_numbers(server) == CARDS  # nobody tagged card_number: no policy applies yet
    run = veil("discover", "-c", str(server.config_path))
    assert run.returncode == 0, run.stderr
    assert "card_number" in run.stdout and CARD_TAG in run.stdout
    assert "order_number" not in run.stdout  # Luhn-invalid look-alikes stay untagged
    hashed = [sha256(f"{HASH_KEY}:{card}".encode()).hexdigest() for card in CARDS]
    waited = eventually(lambda: card_numbers(server) == hashed)
    assert waited < 5
    assert CARD_TAG in column_tags(server, "card_number") and "Discovered.PCI" in column_tags(server, "card_number")
    assert column_tags(server, "order_number") == []

    rejected = veil("tags", "reject", "-c", str(server.config_path), "sales.payments.card_number", CARD_TAG)
    assert rejected.returncode == 0, rejected.stderr
    eventually(lambda: card_numbers(server) == CARDS)
    again = veil("discover", "-c", str(server.config_path))
    assert again.returncode == 0, again.stderr
    assert "rejected earlier" in again.stdout
    with TagStore.open(tmp_path / "state") as store:
        assert "card_number" not in store.discovered().for_table("warehouse.sales.payments")
    time.sleep(1.5)  # longer than the server's tag poll interval
    assert card_numbers(server) == CARDS


def test_discover_dry_run_and_unknown_table(server: VeilServer, tmp_path: Path) -> None:
    dry = veil("discover", "-c", str(server.config_path), "--dry-run", "sales.payments")
    assert dry.returncode == 0 and CARD_TAG in dry.stdout and "dry run" in dry.stdout
    assert not (tmp_path / "state" / "tags.sqlite").exists()
    missing = veil("discover", "-c", str(server.config_path), "nosuch.table")
    assert missing.returncode == 1 and "no table matches" in missing.stderr
    bad = veil("tags", "reject", "-c", str(server.config_path), "sales.payments.nope", CARD_TAG)
    assert bad.returncode == 1 and "does not exist" in bad.stderr
