from pathlib import Path

import pytest

from veil.config import load_config, parse_config
from veil.errors import ConfigError


def test_errors_name_their_yaml_path() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            {
                "server": {"port": "not-a-port"},
                "users": {"alice": {"password": "plain-text"}},
                "connections": {"w": {"type": "duckdb", "latency": "soon"}},
                "policies": [{"name": "empty"}],
            }
        )
    paths = {path for path, _ in info.value.problems}
    assert {"server.port", "users.alice.password", "connections.w.latency", "policies[0]"} <= paths


def test_unknown_keys_are_errors() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"server": {"prot": 1}})
    assert info.value.problems[0][0] == "server.prot"


def test_environment_expansion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEIL_TEST_PORT", "7000")
    config = parse_config({"server": {"port": "${VEIL_TEST_PORT}", "host": "${VEIL_UNSET_HOST:-0.0.0.0}"}})
    assert config.server.port == 7000
    assert config.server.host == "0.0.0.0"


def test_missing_environment_variable_is_reported() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"secrets": {"hash_key": "${VEIL_SURELY_UNSET_VARIABLE}"}})
    assert info.value.problems == [("secrets.hash_key", "environment variable VEIL_SURELY_UNSET_VARIABLE is not set")]


def test_durations_and_sizes() -> None:
    config = parse_config({"cache": {"max_bytes": "512MiB", "default_latency": "10m"}})
    assert config.cache.max_bytes == 512 * 1024**2
    assert config.cache.default_latency == 600


def test_minimize_percent_is_validated() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"policies": [{"name": "m", "minimize": {"percent": 0}}]})
    assert info.value.problems[0][0] == "policies[0].minimize.percent"


def test_hash_masks_need_a_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"policies": [{"name": "m", "mask": {"column_tags": ["PII"], "with": "hash"}}]})
    assert "hash_key" in info.value.problems[0][1]


def test_incomplete_masks_are_reported() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"policies": [{"name": "m", "mask": {"columns": ["x"], "with": "regex"}}]})
    assert info.value.problems[0][0] == "policies[0].mask"


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "veil.yaml").write_text("connections:\n  w: {type: duckdb, path: data/w.duckdb}\n")
    config = load_config(tmp_path / "veil.yaml")
    assert config.connections["w"].path == (tmp_path / "data" / "w.duckdb").resolve()


def test_invalid_yaml_reports_line(tmp_path: Path) -> None:
    (tmp_path / "veil.yaml").write_text("server:\n  port: [1\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "veil.yaml")
    assert info.value.problems[0][0].startswith("line ")
