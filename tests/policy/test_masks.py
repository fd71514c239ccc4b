"""Masks evaluated on real engines: the keyed hash must agree across DuckDB and PostgreSQL."""

from __future__ import annotations

import hashlib
import os

import duckdb
import psycopg
import pytest
from sqlglot import exp

from veil.config.models import MaskPolicy
from veil.policy.masks import keyed_hash, mask_expression

VALUES = ["4111111111111111", "alice@example.com", "Zoë ünïcode", ""]


def postgres_dsn() -> str:
    return os.environ.get("VEIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def expected(value: str, key: str = "k3y") -> str:
    return hashlib.sha256(f"{key}:{value}".encode()).hexdigest()


def mask(**kwargs: object) -> MaskPolicy:
    return MaskPolicy.model_validate({"columns": ["x"], **kwargs})


def run_duckdb(expression: exp.Expression, value: object) -> object:
    return duckdb.sql(f"SELECT {expression.sql('duckdb')} FROM (SELECT $1 AS x)", params=[value]).fetchall()[0][0]


def test_hash_matches_python_in_duckdb() -> None:
    for value in VALUES:
        assert run_duckdb(keyed_hash(exp.column("x"), "k3y", "duckdb"), value) == expected(value)


def test_hash_matches_python_in_postgres() -> None:
    try:
        connection = psycopg.connect(postgres_dsn(), connect_timeout=3)
    except psycopg.OperationalError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("no PostgreSQL reachable")
    with connection:
        for value in VALUES:
            sql = keyed_hash(exp.column("x"), "k3y", "postgres").sql("postgres")
            row = connection.execute(f"SELECT {sql} FROM (SELECT %s::text AS x) t", [value]).fetchone()
            assert row is not None and row[0] == expected(value)


@pytest.mark.parametrize(
    ("policy", "value", "result"),
    [
        (mask(**{"with": "null"}), "secret", None),
        (mask(**{"with": "constant", "value": "REDACTED"}), "secret", "REDACTED"),
        (mask(**{"with": "regex", "pattern": "[0-9]", "replacement": "#"}), "ab12c3", "ab##c#"),
        (mask(**{"with": "show_first", "n": 2}), "abcdef", "ab****"),
        (mask(**{"with": "show_last", "n": 4}), "4111111111111111", "************1111"),
        (mask(**{"with": "email_domain"}), "alice@example.com", "***@example.com"),
        (mask(**{"with": "round", "digits": -2}), 1234, 1200),
        (mask(**{"with": "custom", "sql": "upper(@column)"}), "abc", "ABC"),
        (mask(**{"with": "constant", "value": "REDACTED"}), None, None),
    ],
)
def test_masks_in_duckdb(policy: MaskPolicy, value: object, result: object) -> None:
    assert run_duckdb(mask_expression(policy, exp.column("x"), "duckdb", "k"), value) == result


def test_conditional_mask_is_fail_closed() -> None:
    policy = mask(**{"with": "constant", "value": "X"})
    condition = exp.column("x").eq(exp.Literal.string("mask me"))
    expression = mask_expression(policy, exp.column("x"), "duckdb", "k", condition)
    assert run_duckdb(expression, "mask me") == "X"
    assert run_duckdb(expression, "keep") == "keep"
