"""Dynamic filters end to end: real `veil serve`, a real PostgreSQL and a DuckDB file.

PostgreSQL's statement log proves the big side was sent the small side's keys as an IN list
(after its policy derived table: the row filter still holds), every answer equals the oracle
(what the analyst may see, as plain tables), and masked values never reach a statement raw.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import (
    postgres_connection,
    scratch_database,
    start_server,
    stop_server,
)
from tests.pglog import StatementLog
from tests.planner.federation.test_federation_e2e import (
    CUSTOMERS,
    Federation,
    federation_config,
    hashed,
    oracle,
    same,
    write_duckdb,
    write_postgres,
)

DATABASE = "veil_federation_dynfilter"


@pytest.fixture(scope="module")
def federation(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    directory = tmp_path_factory.mktemp("dynfilter")
    dsn = scratch_database(postgres_dsn, DATABASE)
    write_postgres(dsn)
    log = StatementLog(postgres_dsn, DATABASE)
    write_duckdb(directory / "wh.duckdb")
    process, server = start_server(directory, federation_config(postgres_connection(dsn), directory / "wh.duckdb"))
    try:
        yield Federation(server, log, oracle())
    finally:
        stop_server(process)


def test_a_text_key_from_duckdb_filters_the_postgresql_side(federation: Federation) -> None:
    sql = (
        "SELECT c.id, c.name, k.region FROM reader.customers c JOIN ref.countries k ON k.code = c.country "
        "WHERE k.name = 'country DE'"
    )
    mark = federation.log.mark()
    result = federation.rows(sql)
    (sent,) = [s for s in federation.log.statements_since(mark) if '"customers"' in s]
    assert "\"veil_dynamic\".\"country\" IN ('DE')" in sent, sent
    assert result and same(result, federation.expected(sql))


def test_the_big_side_keeps_its_row_filter_and_masked_values_never_leak(federation: Federation) -> None:
    seven = next(c for c in CUSTOMERS if c[0] == 7)
    sql = (
        "SELECT o.id, o.amount, o.status, c.email FROM fed.orders o JOIN reader.customers c ON c.id = o.customer_id "
        "WHERE c.email = %s"
    )
    mark = federation.log.mark()
    result = federation.rows(sql, (hashed(seven[2]),))
    logged = federation.log.statements_since(mark)
    (orders,) = [s for s in logged if '"orders"' in s]
    assert '"veil_dynamic"."customer_id" IN (7)' in orders, orders
    assert "\"veil_raw\".\"status\" <> 'void'" in orders, "the dynamic filter bypassed the row filter"
    assert result and all(row[2] != "void" for row in result)
    assert same(result, federation.expected(sql, (hashed(seven[2]),)))
    assert all(seven[2] not in s for s in logged), "a raw e-mail reached PostgreSQL"
    assert {row[3] for row in result} == {hashed(seven[2])}


def test_a_masked_key_gets_no_dynamic_filter(federation: Federation) -> None:
    sql = "SELECT a.id, b.id FROM fed.customers a JOIN reader.customers b ON a.email = b.email WHERE b.name = 'customer 3'"
    mark = federation.log.mark()
    result = federation.rows(sql)
    logged = federation.log.statements_since(mark)
    assert [s for s in logged if "veil_dynamic" in s] == [], logged
    assert result == [(3, 3)]


def test_a_race_won_by_the_fast_side_resends_the_slow_side_filtered(federation: Federation) -> None:
    """Both sides filter by constants, so they race: the customers answer at once, the orders
    (read through a source view that sleeps per row) are interrupted and sent again with
    customer 3's key only."""
    plain = (
        "SELECT o.id, o.amount, c.name FROM fed.orders o JOIN reader.customers c ON c.id = o.customer_id "
        "WHERE o.status = 'ok' AND c.name = 'customer 3'"
    )
    slow = plain.replace("fed.orders", "slow.orders")
    mark = federation.log.mark()
    started = time.monotonic()
    result = federation.rows(slow)
    elapsed = time.monotonic() - started
    orders = [s for s in federation.log.statements_since(mark) if '"orders"' in s]
    # The unfiltered read is sent at most once, and only before the filtered one: when the
    # customers answer before the orders' first read has reached PostgreSQL, it is never sent.
    *unfiltered, filtered = orders
    assert len(unfiltered) <= 1 and all("veil_dynamic" not in s for s in unfiltered), orders
    assert '"veil_dynamic"."customer_id" IN (3)' in filtered, orders
    assert "\"veil_raw\".\"status\" <> 'void'" in filtered
    assert elapsed < 2, "the unfiltered read (about 3 s of pg_sleep) was not interrupted"
    assert result and same(result, federation.expected(plain))
