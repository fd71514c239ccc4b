"""A config that cannot fail open: references that name nothing are reported (errors of
`veil check`, warnings and `veil.config_problems` of a running server), and a hot reload never
applies an empty, half-written or everyone-removing file."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from tests.conftest import VeilServer, start_server, stop_server
from tests.security.reload_support import (
    REJECTED,
    changed,
    log_count,
    masked_config,
    rewrite,
    wait_for_log,
)

RAW = {"Ada", "Grace", "Linus", "Zoë ünïcode"}
CUSTOMERS = "SELECT customer FROM sales.orders ORDER BY id"


def veil_check(directory: Path, config: dict[str, object] | str) -> subprocess.CompletedProcess[str]:
    path = directory / "check.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "veil", "check", "-c", str(path)],
        capture_output=True, text=True, timeout=120, cwd=directory, check=False,
    )


def _group_typo(config: dict[str, object]) -> None:
    config["policies"].append(  # type: ignore[union-attr]
        {"name": "Analysts see no amounts",
         "mask": {"columns": ["amount"], "with": "null", "for": {"groups": ["Analytcs"]}}}
    )


def _table_key_typo(config: dict[str, object]) -> None:
    config["tables"] = {"warehouse.sales.ordres": {"tags": {"customer": ["PII.Name"]}}}


def _tag_column_typo(config: dict[str, object]) -> None:
    config["tables"] = {"warehouse.sales.orders": {"tags": {"custmer": ["PII.Name"]}, "event_time": "creatd"}}


@pytest.mark.parametrize(
    ("edit", "path", "suggestion"),
    [
        (_group_typo, "policies[4].mask.for.groups[0]", "did you mean Analytics?"),
        (_table_key_typo, "tables.warehouse.sales.ordres", "did you mean warehouse.sales.orders?"),
        (_tag_column_typo, "tables.warehouse.sales.orders.tags.custmer", "did you mean customer?"),
        (_tag_column_typo, "tables.warehouse.sales.orders.event_time", "did you mean created?"),
    ],
)
def test_check_fails_on_a_reference_that_names_nothing(
    tmp_path: Path, warehouse: Path, edit, path: str, suggestion: str
) -> None:
    good = veil_check(tmp_path, masked_config(warehouse))
    assert good.returncode == 0, good.stderr
    result = veil_check(tmp_path, changed(masked_config(warehouse), edit))
    assert result.returncode == 1, result.stdout + result.stderr
    line = next((text for text in result.stderr.splitlines() if path in text), None)
    assert line is not None, result.stderr
    assert suggestion in line
    assert "is valid" not in result.stderr


def test_check_refuses_an_empty_file(tmp_path: Path) -> None:
    for text in ("", "# nothing yet\n"):
        result = veil_check(tmp_path, text)
        assert result.returncode != 0
        assert "is empty" in result.stderr


@pytest.fixture
def served(tmp_path: Path, warehouse: Path) -> Iterator[tuple[VeilServer, dict[str, object]]]:
    config = masked_config(warehouse)
    process, server = start_server(tmp_path, config)
    try:
        yield server, config
    finally:
        stop_server(process)


def test_a_running_server_lists_unresolved_references_for_admins_only(
    served: tuple[VeilServer, dict[str, object]],
) -> None:
    server, config = served
    broken = changed(changed(config, _group_typo), _table_key_typo)
    rewrite(server, broken)
    log = server.log_path.read_text()
    assert "WARNING" in log and "policies[4].mask.for.groups[0]" in log
    with psycopg.connect(server.dsn("root"), autocommit=True) as root:
        rows = root.execute("SELECT path, problem, suggestion FROM veil.config_problems ORDER BY path").fetchall()
    assert ("policies[4].mask.for.groups[0]", "no user is in group Analytcs", "Analytics") in rows
    assert ("tables.warehouse.sales.ordres", "no table warehouse.sales.ordres exists", "warehouse.sales.orders") in rows
    with psycopg.connect(server.dsn("alice"), autocommit=True) as alice:
        with pytest.raises(psycopg.errors.UndefinedTable):
            alice.execute("SELECT * FROM veil.config_problems")
        # The good part of the reloaded config is in force: the mask still hides names.
        assert not {r[0] for r in alice.execute(CUSTOMERS).fetchall()} & RAW


def test_an_empty_file_is_not_applied(served: tuple[VeilServer, dict[str, object]]) -> None:
    server, _ = served
    with psycopg.connect(server.dsn(), autocommit=True) as connection:
        rewrite(server, "", expect=REJECTED)
        assert {r[0] for r in connection.execute(CUSTOMERS).fetchall()} == {"***"}
    with psycopg.connect(server.dsn(), autocommit=True) as connection:  # users kept: alice logs in
        assert {r[0] for r in connection.execute(CUSTOMERS).fetchall()} == {"***"}


@pytest.mark.parametrize("section", ["users", "connections"])
def test_a_reload_removing_every_user_or_connection_is_refused(
    served: tuple[VeilServer, dict[str, object]], section: str
) -> None:
    server, config = served
    rewrite(server, changed(config, lambda c: c.update({section: {}})), expect=REJECTED)
    assert f"removes every {section[:-1]}" in server.log_path.read_text()
    with psycopg.connect(server.dsn(), autocommit=True) as connection:
        assert {r[0] for r in connection.execute(CUSTOMERS).fetchall()} == {"***"}


def test_a_file_written_in_two_chunks_is_never_applied_half_written(
    served: tuple[VeilServer, dict[str, object]],
) -> None:
    """The first chunk alone is a valid config without the mask (the last policy); no statement
    run while the file is half-written may see the raw names."""
    server, config = served
    text = yaml.safe_dump(config, sort_keys=False)
    cut = text.index("- name: Hide customers")
    first, rest = text[:cut], text[cut:]
    assert yaml.safe_load(first)["policies"][-1]["name"] != "Hide customers"
    seen: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            with psycopg.connect(server.dsn(), autocommit=True) as connection:
                while not stop.is_set():
                    seen.extend(r[0] for r in connection.execute(CUSTOMERS).fetchall())
                    time.sleep(0.02)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for round_ in range(5):
            before = log_count(server, "configuration reloaded")
            # The watcher polls once a second from its last reload: the half-written file is
            # there from 0.4s to 1.1s after it, across that poll.
            time.sleep(0.4)
            with server.config_path.open("w", encoding="utf-8") as file:
                file.write(first)
                file.flush()
                time.sleep(0.7)
                file.write(f"{rest}# round {round_}\n")
            wait_for_log(server, "configuration reloaded", before)
    finally:
        stop.set()
        reader.join(timeout=30)
    assert not errors, errors
    assert seen and not set(seen) & RAW, "a statement saw raw names while the file was half-written"
