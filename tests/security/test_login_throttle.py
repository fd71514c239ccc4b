"""Login throttling: after repeated failures a user and an address are in back-off, during which
even the right password is refused without being looked at; every failed login is audited.

libpq reports neither the SQLSTATE nor the DETAIL of an error during connection, so whether an
attempt was refused in back-off is read from the audit trail, whose record carries both."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg
import pytest

from tests.conftest import VeilServer, base_config, start_server, stop_server

BACK_OFF = "retry in"


def _audit(directory: Path) -> list[dict[str, object]]:
    path = directory / ".veil" / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _attempt(server: VeilServer, user: str, password: str | None = None) -> dict[str, object] | None:
    """Log in; ``None`` on success, else the audit record of the refusal."""
    directory = server.config_path.parent
    before = len(_audit(directory))
    try:
        psycopg.connect(server.dsn(user, password), connect_timeout=10).close()
    except psycopg.OperationalError as error:
        assert f'password authentication failed for user "{user}"' in str(error)
        records = _audit(directory)[before:]
        assert len(records) == 1, records
        return records[0]
    return None


def _in_back_off(record: dict[str, object] | None) -> bool:
    return record is not None and BACK_OFF in str(record["error"])


def test_the_right_password_after_2000_wrong_ones_is_refused_and_failures_are_audited(
    tmp_path: Path, warehouse: Path
) -> None:
    process, server = start_server(tmp_path, base_config(warehouse))  # default auth_throttle
    try:
        started = time.monotonic()
        for i in range(2000):
            try:
                psycopg.connect(server.dsn("alice", password=f"guess-{i}"), connect_timeout=10).close()
                raise AssertionError("a wrong password was accepted")
            except psycopg.OperationalError:
                pass
        elapsed = time.monotonic() - started
        right = _attempt(server, "alice")
        assert right is not None, "the right password was accepted right after 2000 wrong ones"
        assert _in_back_off(right), "the right password was looked at during back-off"
    finally:
        stop_server(process)
    failures = [r for r in _audit(tmp_path) if r["user"] == "alice"]
    assert len(failures) == 2001
    assert all(r["sqlstate"] == "28P01" and r["client_address"] == "127.0.0.1" and r["outcome"] == "error" for r in failures)
    evaluated = sum(not _in_back_off(r) for r in failures)
    # Default back-off: 5 free failures, then 1 s doubling up to 30 s between evaluated attempts.
    assert evaluated <= 5 + elapsed.__ceil__().bit_length() + 1, (evaluated, elapsed)
    print(f"\n2000 attempts in {elapsed:.1f}s ({2000 / elapsed:.0f}/s); {evaluated} passwords evaluated")


def test_back_off_ends_and_a_success_resets_it(tmp_path: Path, warehouse: Path) -> None:
    config = base_config(warehouse)
    config["server"]["auth_throttle"] = {"free_failures": 2, "base_delay": "1s", "max_delay": "1s"}  # type: ignore[index]
    process, server = start_server(tmp_path, config)
    try:
        for _ in range(3):
            assert not _in_back_off(_attempt(server, "bob", "wrong"))
        assert _in_back_off(_attempt(server, "bob")), "the right password was looked at during back-off"
        # Another user from the same address is held back too (the address is in back-off).
        assert _in_back_off(_attempt(server, "alice"))
        time.sleep(1.2)
        assert _attempt(server, "bob") is None
        # The success reset the count: one more failure is not yet a back-off.
        assert not _in_back_off(_attempt(server, "bob", "wrong"))
        assert _attempt(server, "bob") is None
    finally:
        stop_server(process)


def test_throttle_can_be_disabled(tmp_path: Path, warehouse: Path) -> None:
    config = base_config(warehouse)
    config["server"]["auth_throttle"] = {"enabled": False}  # type: ignore[index]
    process, server = start_server(tmp_path, config)
    try:
        for _ in range(12):
            assert not _in_back_off(_attempt(server, "bob", "wrong"))
        assert _attempt(server, "bob") is None
    finally:
        stop_server(process)


@pytest.mark.parametrize("user", ["alice", "nobody"])
def test_failed_logins_are_audited_with_28P01(tmp_path: Path, warehouse: Path, user: str) -> None:
    process, server = start_server(tmp_path, base_config(warehouse))
    try:
        record = _attempt(server, user, "wrong")
    finally:
        stop_server(process)
    assert record is not None
    assert (record["user"], record["sqlstate"], record["outcome"], record["client_address"]) == (
        user, "28P01", "error", "127.0.0.1"
    )
