"""Helpers of the hot-reload security tests: a real `veil serve` whose config file the test rewrites."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.conftest import VeilServer, base_config

RELOADED = "configuration reloaded"
REJECTED = "config reload rejected"


def masked_config(warehouse: Path) -> dict[str, object]:
    """The shared test config plus a mask that hides customer names from everyone but the
    group Trusted (only root is Trusted until a test says so)."""
    config = base_config(warehouse)
    config["users"]["root"]["groups"] = ["Trusted"]  # type: ignore[index]
    config["policies"] = [
        *config["policies"],  # type: ignore[list-item]
        {
            "name": "Hide customers",
            "mask": {
                "tables": ["warehouse.sales.orders"], "columns": ["customer"], "with": "constant",
                "value": "***", "except": {"groups": ["Trusted"]},
            },
        },
    ]
    return config


def log_count(server: VeilServer, text: str) -> int:
    return server.log_path.read_text(errors="replace").count(text)


def wait_for_log(server: VeilServer, text: str, before: int, timeout: float = 20.0) -> float:
    """Seconds until the server log holds one more ``text`` than ``before``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if log_count(server, text) > before:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"the server never logged {text!r}:\n{server.log_path.read_text()[-3000:]}")


def rewrite(server: VeilServer, config: dict[str, object] | str, expect: str = RELOADED) -> float:
    """Replace the config file in place and wait until the server applied (or rejected) it;
    returns how long that took."""
    before = log_count(server, expect)
    text = config if isinstance(config, str) else yaml.safe_dump(config)
    server.config_path.write_text(text, encoding="utf-8")
    return wait_for_log(server, expect, before)


def changed(config: dict[str, object], edit: Callable[[dict[str, object]], None]) -> dict[str, object]:
    updated = copy.deepcopy(config)
    edit(updated)
    return updated
