"""psql 15's meta-commands against `veil serve`: what an analyst types first."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import PASSWORDS, VeilServer, require_tool


def psql(server: VeilServer, command: str, user: str = "alice") -> str:
    binary = require_tool("psql")
    result = subprocess.run(
        [binary, "-X", "-h", server.host, "-p", str(server.port), "-U", user, "-d", "veil", "-c", command],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PGPASSWORD": PASSWORDS[user], "PGSSLMODE": "disable", "PAGER": ""},
    )
    assert result.returncode == 0, result.stderr
    assert "ERROR" not in result.stderr, result.stderr
    return result.stdout


def test_list_databases(veil_server: VeilServer) -> None:
    out = psql(veil_server, r"\l")
    assert "veil" in out and "UTF8" in out


def test_list_schemas(veil_server: VeilServer) -> None:
    out = psql(veil_server, r"\dn")
    assert "sales" in out
    assert "hr" not in out.split()


def test_list_tables_shows_only_subscribed(veil_server: VeilServer) -> None:
    out = psql(veil_server, r"\dt sales.*")
    assert "orders" in out and "customers" in out
    assert "salaries" not in psql(veil_server, r"\dt *.*")
    bob = psql(veil_server, r"\dt *.*", user="bob")
    assert "customers" in bob and "orders" not in bob


def test_describe_table(veil_server: VeilServer) -> None:
    out = psql(veil_server, r"\d sales.orders")
    assert 'Table "sales.orders"' in out
    for column, type_name in [("id", "bigint"), ("customer", "text"), ("amount", "numeric(12,2)"),
                              ("created", "timestamp without time zone"), ("tags", "text[]")]:
        assert any(column in line and type_name in line for line in out.splitlines()), (column, out)


def test_describe_table_verbose(veil_server: VeilServer) -> None:
    out = psql(veil_server, r"\d+ sales.orders")
    assert "Storage" in out and "amount" in out


def test_describe_hidden_table_finds_nothing(veil_server: VeilServer) -> None:
    binary = require_tool("psql")
    result = subprocess.run(
        [binary, "-X", "-h", veil_server.host, "-p", str(veil_server.port), "-U", "alice", "-d", "veil",
         "-c", r"\d hr.salaries"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PGPASSWORD": PASSWORDS["alice"], "PGSSLMODE": "disable"},
    )
    assert "Did not find any relation" in result.stderr


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT count(*) FROM orders", "4"),
        ("SELECT customer FROM orders WHERE amount > 50", "Grace"),
    ],
)
def test_select(veil_server: VeilServer, sql: str, expected: str) -> None:
    assert expected in psql(veil_server, sql)
