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


# --- every \d-family meta-command of psql 15 (conformance server, a mask on customers.name) ---

META_COMMANDS = {
    r"\l+": ["veil", "UTF8", "pg_default"],
    r"\dp": ["orders", "customers"],
    r"\z sales.*": ["orders"],
    r"\dd": ["Object descriptions"],
    r"\df+ version": ["version", "internal", "pgsql_version"],
    r"\df array_to_string": ["anyarray, text"],
    r"\sf version": ["CREATE OR REPLACE FUNCTION pg_catalog.version()", "RETURNS text",
                     "$function$pgsql_version$function$"],
    r"\dt": ["orders", "customers", "big", "all_types"],
    r"\dt+ sales.*": ["orders", "Size"],
    r"\dv pg_catalog.pg_roles": ["pg_roles", "view"],
    r"\di": [],
    r"\dn": ["sales"],
    r"\dn+": ["sales", "Access privileges"],
    r"\du": ["alice", "root"],
    r"\duS pg_monitor": ["pg_monitor", "pg_read_all_stats"],
    r"\dg": ["alice"],
    r"\dT": [],
    r"\dTS int4range": ["int4range"],
    r"\dT+ pg_catalog.trigger": ["trigger"],
    r"\dx": ["plpgsql"],
    r"\dx+": [],
    r"\d sales.customers": ['Table "sales.customers"', "country"],
    r"\d+ sales.orders": ["Storage", "amount"],
    r"\dL": ["plpgsql"],
    r"\dA": ["btree"],
    r"\dAc btree int4": ["int4_ops"],
    r"\da": [],
    r"\db": ["pg_default"],
    r"\dc": [],
    r"\dC int4": ["integer"],
    r"\dD": [],
    r"\des": [],
    r"\dew": [],
    r"\dF": ["english"],
    r"\dFd": ["simple"],
    r"\dFp": ["default"],
    r"\dFp+": ["prsd_start", "asciiword", "Word, all ASCII"],
    r"\dF+ english": ["english_stem", "asciiword"],
    r"\dAf+ btree": ["integer_ops", "text_ops", "Applicable types"],
    r"\dFt": ["simple"],
    r"\dl": [],
    r"\dm": [],
    r"\do+ pg_catalog.=": ["="],
    r"\dO": [],
    r"\dconfig": [],
    r"\drds": [],
    r"\dRp": [],
    r"\dRs": [],
    r"\dX": [],
    r"\dy": [],
    r"\ddp": [],
    r"\dE": [],
    r"\dES": [],
}
NOT_FOUND = ("Did not find any", "No matching")


@pytest.mark.parametrize("command", list(META_COMMANDS))
def test_meta_command(conformance_server: VeilServer, command: str) -> None:
    binary = require_tool("psql")
    result = subprocess.run(
        [binary, "-X", "-h", conformance_server.host, "-p", str(conformance_server.port), "-U", "alice",
         "-d", "veil", "-c", command],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PGPASSWORD": PASSWORDS["alice"], "PGSSLMODE": "disable", "PAGER": ""},
    )
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr
    output = result.stdout + result.stderr
    for expected in META_COMMANDS[command]:
        assert expected in output, output
    if not META_COMMANDS[command]:
        assert result.stdout.strip() or any(m in result.stderr for m in NOT_FOUND), output
    assert "customer 1" not in output


def test_copy_to_stdout_masks(conformance_server: VeilServer) -> None:
    """`\\copy (query) to stdout` runs COPY ... TO STDOUT: rows in COPY text format, masked."""
    query = r"\copy (SELECT id, name FROM sales.customers WHERE id IN (1, 2) ORDER BY id) to stdout"
    assert psql(conformance_server, query).splitlines() == ["1\t***", "2\t***"]
    raw = psql(conformance_server, query, "root")
    assert raw.splitlines() == ["1\tcustomer 1", "2\tcustomer 2"]


# PostgreSQL's built-ins, as psql shows them on PostgreSQL 15 itself: the functions a user may call, and
# every \\d-family listing of built-in objects, with `+` (owner, access privileges, description).
BUILTIN_COMMANDS = [
    r"\df abs", r"\sf abs(integer)", r"\sf pg_catalog.upper(text)", r"\df stddev*", r"\df sqrt",
    r"\sf lower(text)", r"\df date_trunc",
    r"\df+ abs", r"\df+ date_trunc", r"\df+ version", r"\df+ generate_series", r"\dfS+ upper", r"\daS sum",
    r"\dT+ int4", r"\dT+ pg_catalog.trigger", r"\dTS+ int4range", r"\dTS+ cardinal_number",
    r"\do+ pg_catalog.+ integer integer", r"\do+ pg_catalog.|| text text", r"\do+ pg_catalog.~~",
    r"\dn+ pg_catalog", r"\dn+ information_schema", r"\dn+ public",
    r"\dC+ integer", r"\dL", r"\dL+", r"\dx", r"\dA+", r"\dAc+ btree int4", r"\dAf+ btree integer_ops",
    r"\dAo+ btree int4_ops", r"\dAp+ btree int4_ops",
    r"\dF+ english", r"\dF", r"\dFd+", r"\dFp+", r"\dFt+", r"\dx+ plpgsql",
    r"\dcS+", r"\dcS+ utf8_to_*", r"\dDS+", r"\dDS+ information_schema.cardinal_number",
    r"\doS+", r"\dTS+", r"\dC+", r"\dOS+ C", r"\dp pg_catalog.pg_class", r"\dp pg_catalog.pg_roles", r"\dp information_schema.tables",
]


def _psql_postgres(dsn: str, command: str) -> str:
    binary = require_tool("psql")
    result = subprocess.run([binary, "-X", "-d", dsn, "-c", command], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PAGER": ""})
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("command", BUILTIN_COMMANDS)
def test_builtin_function_meta_commands_match_postgres(
    conformance_server: VeilServer, postgres_dsn: str, command: str
) -> None:
    """`\\df`/`\\sf` of an allow-listed built-in, and the `+` listings of built-in objects (their owner is
    the bootstrap superuser `postgres`, as initdb's default user on the comparison server), print exactly what
    PostgreSQL 15 prints."""
    assert psql(conformance_server, command) == _psql_postgres(postgres_dsn, command)
