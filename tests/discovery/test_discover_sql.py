"""Admins run discovery over SQL: `SELECT * FROM veil.discover('sales.*')`; others cannot."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import VeilServer, start_server, stop_server
from tests.discovery.test_discover_e2e import CARD_TAG, CARDS, config, write_warehouse


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VeilServer]:
    directory = tmp_path_factory.mktemp("discover-sql")
    warehouse = directory / "wh.duckdb"
    write_warehouse(warehouse)
    process, info = start_server(directory, config(warehouse, directory / "state"))
    yield info
    stop_server(process)


def connect(server: VeilServer, user: str) -> psycopg.Connection:
    password = {"alice": "alice-pw", "root": "root-pw"}[user]
    return psycopg.connect(host=server.host, port=server.port, user=user, password=password, dbname="veil",
                           autocommit=True)


def test_admin_discovers_over_sql_and_the_tag_applies(server: VeilServer) -> None:
    with connect(server, "alice") as alice:
        assert alice.execute("SELECT card_number FROM sales.payments ORDER BY id LIMIT 1").fetchone() == (CARDS[0],)
    with connect(server, "root") as root:
        found = root.execute("SELECT \"table\", \"column\", tag, hit_rate FROM veil.discover('sales.*')").fetchall()
    assert ("sales.payments", "card_number", CARD_TAG, 1.0) in found
    assert not any(column == "order_number" for _, column, _, _ in found), "Luhn-failing decoy tagged"
    with connect(server, "alice") as alice:
        (value,) = alice.execute("SELECT card_number FROM sales.payments ORDER BY id LIMIT 1").fetchone()
    assert value != CARDS[0] and len(value) == 64


def test_non_admins_cannot_run_discovery(server: VeilServer) -> None:
    with connect(server, "alice") as alice, pytest.raises(psycopg.Error) as info:
        alice.execute("SELECT * FROM veil.discover('sales.*')")
    assert info.value.sqlstate in ("42P01", "42883")
