"""Every mask gives the same output on Snowflake (fakesnow, through the real connector) as on
DuckDB, and the keyed hash is Python's SHA-256 of ``key:value``.

Note what this can and cannot show: fakesnow runs the Snowflake SQL Veil generates by
transpiling it to DuckDB with sqlglot, so a difference between Snowflake's and DuckDB's functions
that sqlglot papers over is invisible here. The hash is spelled ``LOWER(SHA2(... , 256))`` for
Snowflake, whose SHA2 returns lower-case hex of the UTF-8 bytes on a real account too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from sqlglot import exp

from tests.catalog.sources.conftest import Fakesnow
from veil.config.models import MaskPolicy
from veil.policy.masks import mask_expression

KEY = "mask-key"
DATABASE = "VEIL_MASKS"

TEXTS = ["ada@example.com", "Zoë ünïcode ☃", "4111 1111 1111 1111", "x", "", None]
NUMBERS = [Decimal("1234.5678"), Decimal("-0.5050"), Decimal(0), None]
TIMESTAMPS = [dt.datetime(2024, 2, 29, 13, 14, 15, 123456), dt.datetime(1999, 12, 31, 23, 59, 59), None]

MASKS: list[tuple[str, dict[str, Any], str]] = [
    ("hash", {}, "T"),
    ("null", {}, "T"),
    ("constant", {"value": "REDACTED"}, "T"),
    ("regex", {"pattern": "[0-9]", "replacement": "#"}, "T"),
    ("show_first", {"n": 3}, "T"),
    ("show_last", {"n": 4}, "T"),
    ("email_domain", {}, "T"),
    ("custom", {"sql": "upper(@column)"}, "T"),
    ("round", {"digits": 1}, "N"),
    ("round", {"unit": "month"}, "TS"),
    ("year", {}, "TS"),
    ("hash", {}, "N"),
]


@pytest.fixture(scope="module")
def snowflake_cursor(fakesnow: Fakesnow) -> Any:
    rows = ", ".join(
        f"({_literal(t)}, {_literal(n)}, {_literal(ts)})"
        for t, n, ts in zip(TEXTS, NUMBERS + [None] * 2, TIMESTAMPS + [None] * 3, strict=True)
    )
    fakesnow.run(
        DATABASE,
        "CREATE OR REPLACE TABLE PUBLIC.V (ID NUMBER(3,0) AUTOINCREMENT, T VARCHAR, N NUMBER(10,4), TS TIMESTAMP_NTZ)",
        f"INSERT INTO PUBLIC.V (T, N, TS) VALUES {rows}",
    )
    connection = fakesnow.connect(DATABASE)
    yield connection.cursor()
    connection.close()


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dt.datetime):
        return f"'{value.isoformat(sep=' ')}'"
    return "'" + str(value).replace("'", "''") + "'"


def _masked_sql(method: str, options: dict[str, Any], column: str, dialect: str) -> str:
    policy = MaskPolicy.model_validate({"columns": [column], "with": method, **options})
    expression = mask_expression(policy, exp.column(column, quoted=True), dialect, KEY)
    return expression.sql(dialect=dialect)


def _duckdb_values(sql: str) -> list[object]:
    connection = duckdb.connect()
    try:
        connection.execute("CREATE TABLE v (ID INTEGER, T VARCHAR, N DECIMAL(10, 4), TS TIMESTAMP)")
        connection.executemany(
            "INSERT INTO v VALUES (?, ?, ?, ?)",
            [(i, t, n, ts) for i, (t, n, ts) in enumerate(
                zip(TEXTS, NUMBERS + [None] * 2, TIMESTAMPS + [None] * 3, strict=True), 1)],
        )
        return [row[0] for row in connection.execute(f'SELECT {sql} FROM v ORDER BY "ID"').fetchall()]
    finally:
        connection.close()


def _normalised(values: list[object]) -> list[object]:
    """Drivers differ in Python types (Decimal vs int, str vs datetime): compare as text."""
    return [None if v is None else str(v.normalize() if isinstance(v, Decimal) else v) for v in values]


@pytest.mark.parametrize(("method", "options", "column"), MASKS, ids=[f"{m}-{c}" for m, _, c in MASKS])
def test_mask_is_the_same_on_snowflake_and_duckdb(
    snowflake_cursor: Any, method: str, options: dict[str, Any], column: str
) -> None:
    snowflake_sql = _masked_sql(method, options, column, "snowflake")
    snowflake_cursor.execute(f'SELECT {snowflake_sql} FROM PUBLIC.V ORDER BY "ID"')
    on_snowflake = [row[0] for row in snowflake_cursor.fetchall()]
    on_duckdb = _duckdb_values(_masked_sql(method, options, column, "duckdb"))
    assert _normalised(on_snowflake) == _normalised(on_duckdb)
    raw = {"T": TEXTS, "N": NUMBERS, "TS": TIMESTAMPS}[column]
    if method in ("hash", "null", "constant", "email_domain"):
        assert not set(_normalised(on_snowflake)) & set(_normalised([v for v in raw if v]))


def test_keyed_hash_is_sha256_of_key_and_value(snowflake_cursor: Any) -> None:
    snowflake_cursor.execute(f'SELECT {_masked_sql("hash", {}, "T", "snowflake")} FROM PUBLIC.V ORDER BY "ID"')
    expected = [None if t is None else hashlib.sha256(f"{KEY}:{t}".encode()).hexdigest() for t in TEXTS]
    assert [row[0] for row in snowflake_cursor.fetchall()] == expected
