"""A source type added from outside Veil: the in-memory type of ``memory_source.py``, declared
by a ``veil.sources`` entry point of a package on the path (as ``pip install`` would leave it),
served by ``veil serve`` through policies; and registered from code through the registry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from tests.catalog.sources.memory_source import PLUGIN, MemorySource
from tests.config.support import alice_and_root, everyone_reads
from tests.conftest import PASSWORDS, start_server, stop_server
from veil.catalog.sources import plugins
from veil.catalog.sources.base import read_all
from veil.config import parse_config
from veil.errors import ConfigError

PEOPLE = {
    "name": ["Ada", "Linus", "Grace", "Dennis"],
    "email": ["ada@example.eu", "linus@example.eu", "grace@example.us", "dennis@example.us"],
    "region": ["EU", "EU", "US", "US"],
}
MEMORY = {"type": "memory", "tables": {"crm.people": PEOPLE}}


def served_config() -> dict[str, Any]:
    return {
        "server": {"host": "127.0.0.1", "port": 0},
        "connections": {"mem": MEMORY},
        "users": alice_and_root(groups=["Analytics"]),
        "policies": [
            everyone_reads(),
            {"name": "Analysts see EU only", "row_filter": {"tables": ["mem.crm.people"], "where": "region = 'EU'",
                                                          "for": {"groups": ["Analytics"]}}},
            {"name": "Analysts see email domains", "mask": {"tables": ["mem.crm.people"], "columns": ["email"],
                                                          "with": "email_domain", "for": {"groups": ["Analytics"]}}},
        ],
    }


def installed_package(directory: Path) -> Path:
    """A package's ``.dist-info`` declaring the memory type, as pip installs it."""
    info = directory / "veil_memory_source-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: veil-memory-source\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[veil.sources]\nmemory = tests.catalog.sources.memory_source:PLUGIN\n")
    return directory


def query(port: int, user: str, sql: str) -> list[tuple[Any, ...]]:
    dsn = f"postgresql://{user}:{PASSWORDS[user]}@127.0.0.1:{port}/veil?sslmode=disable"
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as connection:
        return connection.execute(sql).fetchall()


@pytest.mark.e2e
def test_veil_serve_reads_an_entry_point_source_through_policies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = installed_package(tmp_path / "site")
    # The "installed" package's module is this repository's tests.catalog.sources.memory_source:
    # the server's interpreter finds it through the repository root, as an installed one would
    # through site-packages (whatever directory the server runs in).
    repository = Path(__file__).resolve().parents[3]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), str(repository), os.environ.get("PYTHONPATH", "")]))
    process, server = start_server(tmp_path, served_config())
    try:
        sql = "SELECT name, email, region FROM crm.people ORDER BY name"
        assert query(server.port, "root", sql) == [
            ("Ada", "ada@example.eu", "EU"), ("Dennis", "dennis@example.us", "US"),
            ("Grace", "grace@example.us", "US"), ("Linus", "linus@example.eu", "EU"),
        ]
        seen = query(server.port, "alice", sql)
        assert seen == [("Ada", "***@example.eu", "EU"), ("Linus", "***@example.eu", "EU")]
        assert not {e for _, e, _ in seen} & set(PEOPLE["email"]), "no raw email reaches an analyst"
        assert query(server.port, "alice", "SELECT count(*) FROM crm.people WHERE region = 'US'") == [(0,)]
    finally:
        stop_server(process)


def test_without_its_package_the_type_is_a_config_error_naming_its_path(tmp_path: Path) -> None:
    path = tmp_path / "veil.yaml"
    path.write_text(yaml.safe_dump(served_config()))
    result = subprocess.run([sys.executable, "-m", "veil", "check", "-c", str(path)],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2
    assert "connections.mem.type: unknown source type 'memory' (installed: databricks, duckdb, postgres, snowflake)" in (
        " ".join(result.stderr.split())
    )


@pytest.fixture
def registered() -> Any:
    plugins.register(PLUGIN)
    yield PLUGIN
    plugins.unregister(PLUGIN.name)


def test_a_plugin_registered_from_code_opens_validates_and_reads(registered: Any) -> None:
    config = plugins.check_connections(parse_config({"connections": {"mem": MEMORY}}))
    source = plugins.open_source("mem", config.connections["mem"])
    try:
        assert isinstance(source, MemorySource)
        assert [(t.schema, t.name, [c.name for c in t.columns]) for t in source.list_tables()] == [
            ("crm", "people", ["name", "email", "region"])
        ]
        assert read_all(source, 'SELECT name FROM "crm"."people" WHERE region = $1 ORDER BY 1', ["US"]).to_pylist() == [
            {"name": "Dennis"}, {"name": "Grace"}
        ]
        assert plugins.fingerprint(config.connections["mem"]) == "memory:crm.people"
    finally:
        source.close()
    with pytest.raises(ConfigError) as info:
        plugins.check_connections(parse_config({"connections": {"mem": {"type": "memory", "tables": {}, "host": "x"}}}))
    assert info.value.problems == [("connections.mem", "`host` is not a setting of a memory connection (it takes tables)")]
