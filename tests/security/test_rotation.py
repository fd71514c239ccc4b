"""Rotating the hash key: the new key hashes from the next statement on, results cached under
the old key are never served, the old key stays a secret (scrubbed), ``veil check`` warns while
``hash_key_previous`` is set. The log filter scrubs both keys."""

from __future__ import annotations

import asyncio
import logging
from hashlib import sha256
from pathlib import Path

import pytest
import yaml

from tests.security.support import HASH_KEY, PREVIOUS_KEY, SCHEMA, config, write_duckdb
from tests.test_cli import veil
from veil.admin.redact import SecretsLogFilter
from veil.api import SessionInfo
from veil.config import parse_config
from veil.engine.engine import QueryEngine
from veil.errors import ConfigError


def _config(directory: Path, key: str, previous: str | None) -> dict[str, object]:
    warehouse = directory / "wh.duckdb"
    connection = {"type": "duckdb", "path": str(warehouse)} if warehouse.exists() else write_duckdb(warehouse)
    data = config(connection, SCHEMA["duckdb"], directory)
    data["secrets"] = {"hash_key": key, **({"hash_key_previous": previous} if previous else {})}
    data["connections"]["warehouse"]["latency"] = "1h"  # type: ignore[index]  # results are cached
    return data


async def _card(engine: QueryEngine) -> str:
    session = engine.open_session(SessionInfo(user="analyst", database="veil"))
    prepared = await session.prepare("SELECT card_number FROM transactions WHERE id = 1", [])
    stream = await session.execute(prepared, [])
    rows = [row for batch in [b async for b in stream] for row in batch.to_pylist()]
    return next(iter(rows))["card_number"]


def test_a_new_key_hashes_at_once_and_old_cached_results_are_not_served(tmp_path: Path) -> None:
    engine = QueryEngine(parse_config(_config(tmp_path, PREVIOUS_KEY, None)))
    try:
        assert asyncio.run(_card(engine)) == sha256(f"{PREVIOUS_KEY}:4111111111111111".encode()).hexdigest()
        engine.reload(parse_config(_config(tmp_path, HASH_KEY, PREVIOUS_KEY)))
        assert asyncio.run(_card(engine)) == sha256(f"{HASH_KEY}:4111111111111111".encode()).hexdigest()
    finally:
        engine.close()


def test_previous_key_must_differ_and_needs_a_current_key() -> None:
    with pytest.raises(ConfigError):
        parse_config({"secrets": {"hash_key": "a", "hash_key_previous": "a"}})
    with pytest.raises(ConfigError):
        parse_config({"secrets": {"hash_key_previous": "a"}})


def test_check_warns_while_a_previous_key_is_set(tmp_path: Path) -> None:
    path = tmp_path / "veil.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path, HASH_KEY, PREVIOUS_KEY)))
    result = veil("check", "-c", str(path))
    assert result.returncode == 0, result.stderr
    assert "hash_key_previous is set" in " ".join((result.stdout + result.stderr).split())
    assert HASH_KEY not in result.stdout + result.stderr and PREVIOUS_KEY not in result.stdout + result.stderr


def test_log_filter_scrubs_both_keys(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("veil.test.rotation")
    scrubber = SecretsLogFilter(lambda: (HASH_KEY, PREVIOUS_KEY))
    logger.addFilter(scrubber)
    try:
        with caplog.at_level(logging.INFO, logger="veil.test.rotation"):
            logger.info("source said: %s and %s", f"bad '{HASH_KEY}:x'", PREVIOUS_KEY)
    finally:
        logger.removeFilter(scrubber)
    assert "source said" in caplog.text
    assert HASH_KEY not in caplog.text and PREVIOUS_KEY not in caplog.text
