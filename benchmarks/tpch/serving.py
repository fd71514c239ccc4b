"""Veil in front of the TPC-H tables, shared by the benchmark and tests/engine/test_tpch.py.

Two namings of the same PostgreSQL tables:

* ``tpch.*``: one connection, so every query is pushed down whole (one connection key);
* ``split.*``: lineitem and orders through one connection, the six other tables through a second
  one with other credentials (another connection key), so every query that joins the two sides
  runs as fragments on PostgreSQL plus a local join in Veil's DuckDB.

The user reading them is no admin and is subscribed to every table with no mask or row filter,
so what is measured is the proxy, not policies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import psycopg

from benchmarks.tpch.data import SCHEMA, TABLES
from tests.conftest import postgres_connection
from veil.proxy.auth import make_scram_verifier

USER, PASSWORD = "tpch_analyst", "tpch-secret"
READER, READER_PASSWORD = "veil_tpch_reader", "tpch-reader-secret"
FACT_TABLES = ("lineitem", "orders")


def ensure_reader(admin_dsn: str) -> None:
    """The PostgreSQL role behind the second connection key (a cluster-wide object)."""
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER,)).fetchone()
        connection.execute(f"{'ALTER' if exists else 'CREATE'} ROLE {READER} LOGIN PASSWORD '{READER_PASSWORD}'")


def connections(dsn: str) -> dict[str, object]:
    """``tpch`` (one key) and ``split_facts`` + ``split_dims`` (two keys) over database ``dsn``."""
    facts = [f"{SCHEMA}.{t}" for t in FACT_TABLES]
    dimensions = [f"{SCHEMA}.{t}" for t in TABLES if t not in FACT_TABLES]
    split = {"schema": "split"}
    return {
        "tpch": postgres_connection(dsn, latency=0, population={"tables": [f"{SCHEMA}.{t}" for t in TABLES]}),
        "split_facts": postgres_connection(dsn, latency=0, population={"tables": facts}, naming=split),
        "split_dims": postgres_connection(
            dsn, latency=0, user=READER, password=READER_PASSWORD, population={"tables": dimensions}, naming=split
        ),
    }


def users_and_policies() -> dict[str, Any]:
    return {
        "users": {USER: {"password": make_scram_verifier(PASSWORD)}},
        "policies": [{"name": "TPC-H reads all", "subscription": {"tables": ["*"], "allow": {"users": [USER]}}}],
    }


def veil_dsn(host: str, port: int) -> str:
    return f"postgresql://{USER}:{PASSWORD}@{host}:{port}/veil?sslmode=disable"


def _same_value(actual: object, expected: object, padded: bool) -> bool:
    numbers = (int, float, Decimal)
    if isinstance(actual, numbers) and isinstance(expected, numbers) and not isinstance(actual, bool):
        return math.isclose(float(actual), float(expected), rel_tol=1e-9, abs_tol=1e-9)
    if not padded and isinstance(actual, str) and isinstance(expected, str):
        return actual.rstrip(" ") == expected.rstrip(" ")
    return actual == expected


def same_rows(
    actual: Sequence[Sequence[object]], expected: Sequence[Sequence[object]], ordered: bool, padded: bool = True
) -> bool:
    """Equal results: the same rows (in order when ``ordered``); numbers equal to 1e-9 relative
    (a local join computes PostgreSQL's unconstrained numerics as doubles). With ``padded`` false
    (two connection keys), char(n) values may come without their trailing blanks: those that went
through a local join do."""
    if len(actual) != len(expected):
        return False
    if not ordered:
        actual, expected = sorted(actual, key=_sort_key), sorted(expected, key=_sort_key)
    return all(
        len(a) == len(e) and all(_same_value(x, y, padded) for x, y in zip(a, e, strict=True))
        for a, e in zip(actual, expected, strict=True)
    )


def _sort_key(row: Sequence[object]) -> tuple[str, ...]:
    return tuple(
        f"{float(v):.6e}" if isinstance(v, int | float | Decimal) else str(v).rstrip(" ") for v in row
    )
