"""The registry of source types: Veil's four built-in plugins, what they validate, the store
identities they give, and the dialect rules masks and the planner ask of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlglot import exp

from veil.catalog.sources import plugins
from veil.config import parse_config
from veil.errors import ConfigError
from veil.policy.masks import keyed_hash


def problems(connections: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        plugins.check_connections(parse_config({"connections": connections}))
    return dict(info.value.problems)


def test_the_built_in_types_are_registered_without_reinstalling_veil() -> None:
    assert {"duckdb", "postgres", "snowflake", "databricks"} <= set(plugins.source_types())


def test_an_unknown_type_is_an_error_at_its_yaml_path() -> None:
    found = problems({"crm": {"type": "mysql", "host": "db"}})
    assert list(found) == ["connections.crm.type"], "the type is wrong, not its keys"
    assert found["connections.crm.type"].startswith("unknown source type 'mysql' (installed: ")


def test_a_key_of_another_source_type_is_an_error_with_its_path() -> None:
    found = problems({
        "crm": {"type": "postgres", "host": "db", "database": "crm", "access_token": "x"},
        "lake": {"type": "duckdb", "path": "lake.duckdb", "warehouse": "WH", "catalog": "main"},
    })
    assert "`access_token` is not a setting of a postgres connection" in found["connections.crm"]
    assert "`catalog`, `warehouse` are not a setting of a duckdb connection" in found["connections.lake"]


@pytest.mark.parametrize(("connection", "message"), [
    ({"type": "duckdb"}, "a duckdb connection needs `path` (the database file)"),
    ({"type": "postgres", "host": "db"}, "a postgres connection needs `host` and `database`"),
    ({"type": "snowflake", "account": "a", "user": "u"}, "a snowflake connection needs `password` or `private_key_file`"),
    ({"type": "databricks", "server_hostname": "h"},
     "a databricks connection needs `server_hostname`, `http_path` and `access_token`"),
])
def test_each_type_names_its_missing_keys(connection: dict[str, object], message: str) -> None:
    assert problems({"c": connection}) == {"connections.c": message}


def test_a_wrongly_typed_key_names_its_own_path() -> None:
    assert problems({"pg": {"type": "postgres", "host": "db", "database": "d", "port": "high"}}).keys() == {
        "connections.pg.port"
    }


def test_store_identities_are_unchanged_by_the_plugins(tmp_path: Path) -> None:
    """The metadata store keys connections by these strings: a new spelling would make every
    connection look new (its tables flagged New, overrides lost)."""
    config = parse_config({"connections": {
        "w": {"type": "duckdb", "path": "w.duckdb"},
        "pg": {"type": "postgres", "host": "db", "port": 5433, "database": "crm"},
        "sf": {"type": "snowflake", "account": "acme", "user": "u", "password": "p", "database": "SALES"},
        "dbx": {"type": "databricks", "server_hostname": "h", "http_path": "/sql/1", "access_token": "t"},
    }}, base_dir=tmp_path)
    assert {name: plugins.fingerprint(c) for name, c in config.connections.items()} == {
        "w": f"duckdb:{(tmp_path / 'w.duckdb').resolve()}",
        "pg": "postgres://db:5433/crm",
        "sf": "snowflake://acme:/SALES",
        "dbx": "databricks://h:/sql/1/",
    }


def test_dialect_rules_come_from_the_plugins() -> None:
    assert plugins.for_dialect("snowflake").three_part_names and plugins.for_dialect("databricks").three_part_names
    assert not plugins.for_dialect("postgres").three_part_names
    value = exp.column("email")
    assert keyed_hash(value, "k", "postgres").sql("postgres") == (
        "ENCODE(SHA256(CONVERT_TO('k:' || CAST(email AS TEXT), 'UTF8')), 'hex')"
    )
    assert keyed_hash(value, "k", "duckdb").sql("duckdb") == "SHA256('k:' || CAST(email AS TEXT))"
    with pytest.raises(Exception, match="no source type writes SQL in the oracle dialect"):
        plugins.for_dialect("oracle")
