"""The hash key never reaches anything a user, an admin or a log reader can see: query results
(``current_query()`` at the source), EXPLAIN, ``veil explain``, errors, the audit log, the
server log. Files Veil creates are readable by its own user only."""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import VeilServer
from tests.security.support import (
    HASH_KEY,
    PREVIOUS_KEY,
    RAW_CARDS,
    connect,
    rows,
    serve,
)

SECRETS = (HASH_KEY, PREVIOUS_KEY)
FEDERATED = "SELECT t.id, t.card_number, r.region FROM transactions t JOIN geo.regions r ON r.code = t.country"


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VeilServer]:
    yield from serve(request, tmp_path_factory, request.param)


def _no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, "the hash key leaked"


def test_current_query_at_the_source_does_not_show_the_key(server: VeilServer) -> None:
    with connect(server, "analyst") as connection:
        try:
            result = connection.execute("SELECT current_query(), card_number FROM transactions").fetchall()
        except psycopg.Error as error:  # refusing the function is fine; quoting the key is not
            _no_secret(str(error))
            return
    assert result, "the statement returned nothing to inspect"
    _no_secret(repr(result))
    assert not {str(card) for _, card in result} & RAW_CARDS


@pytest.mark.parametrize("sql", ["SELECT card_number FROM transactions", FEDERATED])
def test_explain_does_not_show_the_key(server: VeilServer, sql: str) -> None:
    plan = "\n".join(r[0] for r in rows(server, "root", f"EXPLAIN {sql}"))
    assert "SQL sent to connection warehouse" in plan
    _no_secret(plan)
    cli = subprocess.run(
        [sys.executable, "-m", "veil", "explain", "-c", str(server.config_path), "-u", "analyst", sql],
        capture_output=True, text=True, timeout=120, cwd=server.config_path.parent, check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert "SQL sent to connection warehouse" in cli.stdout
    _no_secret(cli.stdout + cli.stderr)


def test_errors_do_not_show_the_key(server: VeilServer) -> None:
    with connect(server, "analyst") as connection, pytest.raises(psycopg.Error) as info:
        connection.execute("SELECT CAST(card_number AS INTEGER) FROM transactions").fetchall()
    _no_secret(str(info.value))
    _no_secret(str(info.value.diag.message_detail or "") + str(info.value.diag.message_hint or ""))


def test_federated_results_are_hashed_with_the_key(server: VeilServer) -> None:
    result = rows(server, "analyst", FEDERATED)
    assert result and not {str(r[1]) for r in result} & RAW_CARDS
    _no_secret(repr(result))


def test_audit_and_server_log_never_hold_the_key(server: VeilServer) -> None:
    rows(server, "analyst", "SELECT card_number FROM transactions WHERE id = 1")
    rows(server, "analyst", FEDERATED)
    with connect(server, "analyst") as connection, pytest.raises(psycopg.Error):
        connection.execute("SELECT CAST(card_number AS INTEGER) FROM transactions").fetchall()
    audit_rows = rows(server, "root", "SELECT statement, pushed_sql, error FROM veil.audit")
    assert audit_rows
    _no_secret(repr(audit_rows))
    audit = Path(server.config_path.parent / "audit" / "audit.jsonl").read_text()
    assert "card_number" in audit  # the pushed SQL is recorded...
    _no_secret(audit)  # ...without the key
    _no_secret(server.log_path.read_text())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_veil_creates_are_private(server: VeilServer) -> None:
    rows(server, "analyst", FEDERATED)  # writes the audit log and uses the spill directory
    directory = server.config_path.parent
    audit = directory / "audit" / "audit.jsonl"
    assert _mode(audit) == 0o600
    assert _mode(audit.parent) == 0o700
    state = directory / "state"
    assert _mode(state) == 0o700
    stores = [p for p in state.rglob("*") if p.is_file()]
    assert stores, "no store was written under state_dir"
    assert {p.name: _mode(p) for p in stores} == {p.name: 0o600 for p in stores}
    spill = state / "spill"
    assert spill.is_dir() and _mode(spill) == 0o700
