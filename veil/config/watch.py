"""Hot reload: poll the config file and hand each new *valid* config to the server.

A file that fails validation is reported (every problem with its YAML path) and the last good
config stays in force; nothing is half-applied.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from veil.config.loader import load_config
from veil.config.models import VeilConfig
from veil.errors import ConfigError

log = logging.getLogger("veil.config")


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


async def watch_config(
    path: Path,
    apply: Callable[[VeilConfig], None],
    *,
    interval: float = 1.0,
) -> None:
    """Run forever: reload ``path`` whenever it changes and pass valid configs to ``apply``."""
    last = _signature(path)
    while True:
        await asyncio.sleep(interval)
        current = _signature(path)
        if current is None or current == last:
            continue
        last = current
        try:
            config = await asyncio.to_thread(load_config, path)
        except ConfigError as exc:
            for where, message in exc.problems:
                log.error("config reload rejected, keeping the previous config: %s: %s", where, message)
            continue
        try:
            await asyncio.to_thread(apply, config)
        except Exception:  # noqa: BLE001 - a bad reload must never stop the server
            log.exception("config reload failed; keeping the previous config")
            continue
        log.info("configuration reloaded from %s", path)
