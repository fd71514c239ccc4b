"""The `veil` command line as admins use it: passwd, check, explain, demo, and hot reload."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import psycopg
import pytest
import yaml
from scramp import ScramClient, ScramMechanism

from tests.conftest import (
    base_config,
    free_port,
    start_server,
    stop_server,
    wait_for_port,
)
from veil.proxy.auth import parse_scram_verifier


def veil(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "veil", *args], input=stdin, capture_output=True, text=True, timeout=120, cwd=cwd
    )


def write_config(directory: Path, config: dict[str, object]) -> Path:
    path = directory / "veil.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def test_passwd_prints_a_verifier_that_authenticates() -> None:
    result = veil("passwd", "--password-stdin", stdin="s3cret\n")
    assert result.returncode == 0, result.stderr
    verifier = parse_scram_verifier(result.stdout.strip())
    assert verifier is not None
    assert verifier.iterations >= 4096
    server = ScramMechanism().make_server(
        lambda user: (verifier.salt, verifier.stored_key, verifier.server_key, verifier.iterations)
    )
    client = ScramClient(["SCRAM-SHA-256"], "u", "s3cret")
    server.set_client_first(client.get_client_first())
    client.set_server_first(server.get_server_first())
    server.set_client_final(client.get_client_final())
    client.set_server_final(server.get_server_final())


def test_check_reports_yaml_paths(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"server": {"port": "x"}, "users": {"a": {"password": "plain"}}})
    result = veil("check", "-c", str(path))
    assert result.returncode == 2
    assert "server.port" in result.stderr and "users.a.password" in result.stderr


def test_check_tests_connections(tmp_path: Path, warehouse: Path) -> None:
    good = write_config(tmp_path, base_config(warehouse))
    result = veil("check", "-c", str(good))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout
    missing = dict(base_config(warehouse))
    missing["connections"] = {"warehouse": {"type": "duckdb", "path": str(tmp_path / "missing.duckdb")}}
    result = veil("check", "-c", str(write_config(tmp_path, missing)))
    assert result.returncode == 1
    assert "does not exist" in result.stdout


def test_explain_shows_pushed_sql_and_policies(tmp_path: Path, warehouse: Path) -> None:
    config = base_config(warehouse)
    config["secrets"] = {"hash_key": "k"}
    config["tables"] = {"warehouse.sales.orders": {"tags": {"customer": ["PII.Name"]}}}
    config["policies"] = [
        *config["policies"],  # type: ignore[list-item]
        {"name": "Hash names", "mask": {"column_tags": ["PII"], "with": "hash"}},
        {"name": "Support only", "row_filter": {"where": "id > 1", "for": {"groups": ["Support"]}}},
    ]
    path = write_config(tmp_path, config)
    result = veil("explain", "-c", str(path), "--user", "alice", "SELECT customer FROM orders WHERE id = 1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "SQL sent to connection warehouse (duckdb)" in out
    assert 'mask "Hash names" on sales.orders on customer' in out
    assert '"Support only" on sales.orders: only for other users' in out
    assert "SHA256" in out.upper()
    hidden = veil("explain", "-c", str(path), "--user", "alice", "SELECT * FROM hr.salaries")
    assert hidden.returncode == 1 and "42P01" in hidden.stderr


def test_hot_reload_applies_new_policies_and_keeps_last_good_config(tmp_path: Path, warehouse: Path) -> None:
    config = base_config(warehouse)
    process, server = start_server(tmp_path, config)
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as connection:
            assert connection.execute("SELECT customer FROM orders WHERE id = 1").fetchone() == ("Ada",)
            masked = dict(config)
            masked["policies"] = [
                *config["policies"],  # type: ignore[list-item]
                {"name": "Hide customers", "mask": {"columns": ["customer"], "with": "constant", "value": "***"}},
            ]
            server.config_path.write_text(yaml.safe_dump(masked), encoding="utf-8")
            assert eventually(
                lambda: connection.execute("SELECT customer FROM orders WHERE id = 1").fetchone() == ("***",)
            )
            server.config_path.write_text("policies: [unclosed\n", encoding="utf-8")
            time.sleep(2.5)
            assert connection.execute("SELECT customer FROM orders WHERE id = 1").fetchone() == ("***",)
            unknown_type = {**masked, "connections": {"warehouse": {"type": "nosuch", "path": str(warehouse)}}}
            server.config_path.write_text(yaml.safe_dump(unknown_type), encoding="utf-8")
            time.sleep(2.5)
            assert connection.execute("SELECT customer FROM orders WHERE id = 1").fetchone() == ("***",)
        log = server.log_path.read_text()
        assert "config reload rejected" in log
        assert "connections.warehouse.type: unknown source type 'nosuch'" in log, "a source type is judged on reload too"
    finally:
        stop_server(process)


def test_demo_serves_generated_data(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "demo.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "veil", "demo", "--dir", str(tmp_path / "demo"), "--port", str(port),
         "--transactions", "20000"],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )
    try:
        wait_for_port("127.0.0.1", port, process, tmp_path / "demo.log")
        dsn = f"postgresql://alice:alice@127.0.0.1:{port}/veil?sslmode=disable"
        raw = duckdb.connect(str(tmp_path / "demo" / "demo.duckdb"), read_only=True)
        raw_phones = {r[0] for r in raw.execute("SELECT phone FROM sales.customers").fetchall()}
        raw_cards = [r[0] for r in raw.execute("SELECT card_number FROM sales.transactions LIMIT 100").fetchall()]
        raw.close()
        assert all(_luhn_valid(card) for card in raw_cards)
        bob = dsn.replace("alice:alice", "bob:bob")
        with psycopg.connect(bob) as connection:  # Fraud: all rows, raw card numbers
            assert connection.execute("SELECT count(*) FROM transactions").fetchone() == (20000,)
            assert connection.execute("SELECT card_number FROM transactions ORDER BY transaction_id LIMIT 100").fetchall() == [(c,) for c in raw_cards]
        with psycopg.connect(dsn) as connection:  # Analytics: US/CA rows only, cards hashed
            countries = {r[0] for r in connection.execute("SELECT DISTINCT country FROM transactions").fetchall()}
            assert countries == {"US", "CA"}
            cards = {r[0] for r in connection.execute("SELECT card_number FROM transactions").fetchall()}
            assert not cards & set(raw_cards) and all(len(c) == 64 for c in cards)
            phones = {r[0] for r in connection.execute("SELECT phone FROM customers").fetchall()}
            assert not phones & raw_phones, "discovery should have tagged and masked the untagged phones"
            assert all(p.startswith("***") for p in phones)
        with pytest.raises(psycopg.errors.UndefinedTable), psycopg.connect(dsn.replace("alice:alice", "carol:carol")) as carol:
            carol.execute("SELECT * FROM transactions")
        assert "psql \"postgresql://alice:alice@127.0.0.1" in (tmp_path / "demo.log").read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


def _luhn_valid(number: str) -> bool:
    digits = [int(d) for d in number][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits))
    return total % 10 == 0


def test_startup_errors_are_one_line_and_exit_1(tmp_path: Path, warehouse: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = base_config(warehouse)
        config["server"] = {**config["server"], "port": port}  # type: ignore[dict-item]
        result = veil("serve", "-c", str(write_config(tmp_path, config)))
    assert result.returncode == 1
    assert (result.stdout + result.stderr).strip().splitlines()[-1] == f"Error: cannot listen on 127.0.0.1:{port}: address already in use"
    assert "Traceback" not in result.stdout + result.stderr

    config = base_config(warehouse)
    config["server"] = {**config["server"], "port": free_port(), "tls": {"cert": str(tmp_path / "missing.pem"), "key": str(tmp_path / "missing.key")}}  # type: ignore[dict-item]
    result = veil("serve", "-c", str(write_config(tmp_path, config)))
    assert result.returncode == 1
    assert (result.stdout + result.stderr).strip().splitlines()[-1].startswith("Error: cannot load server.tls certificate or key: ")
    assert "Traceback" not in result.stdout + result.stderr
