"""Hot reload: poll the config file and hand each new *valid* config to the server.

A change is applied only once the file is stable: its size, modification time and content hash
stay the same across ``settle`` seconds, so an editor or a script that writes the file in several
chunks is never applied half-written; the bytes that were seen stable are parsed whole. Writing a
new file and renaming it over the old one (atomic on POSIX) is still the recommended way.

A file that fails validation is reported (every problem with its YAML path) and the last good
config stays in force; so does one that would remove every user or every connection. Nothing is
half-applied.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from veil.config.loader import load_config_bytes
from veil.config.models import VeilConfig
from veil.config.references import reload_refusal
from veil.errors import ConfigError

log = logging.getLogger("veil.config")

#: How long the file must stay unchanged before a reload reads it.
SETTLE_SECONDS = 1.0


@dataclass(frozen=True)
class FileState:
    """What the watcher saw of the file: (mtime, size) cheaply, the content hash when read."""

    mtime_ns: int
    size: int
    digest: bytes = b""
    content: bytes = b""

    def same(self, other: FileState | None) -> bool:
        return other is not None and (self.mtime_ns, self.size, self.digest) == (
            other.mtime_ns, other.size, other.digest
        )


def file_signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


def read_state(path: Path) -> FileState | None:
    """The file's size, mtime and content (``None`` if it cannot be read)."""
    try:
        with open(path, "rb") as file:
            before = os.fstat(file.fileno())
            content = file.read()
    except OSError:
        return None
    return FileState(before.st_mtime_ns, before.st_size, hashlib.sha256(content).digest(), content)


async def read_when_stable(path: Path, settle: float = SETTLE_SECONDS, limit: float = 60.0) -> FileState | None:
    """The file's content once two reads ``settle`` seconds apart agree on size, mtime and hash
    (``None`` if it never settles within ``limit`` seconds or cannot be read)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    previous = await asyncio.to_thread(read_state, path)
    while previous is not None and loop.time() < deadline:
        await asyncio.sleep(settle)
        current = await asyncio.to_thread(read_state, path)
        if current is not None and current.same(previous) and len(current.content) == current.size:
            return current
        previous = current
    return None


def _reject(problems: list[tuple[str, str]]) -> None:
    for where, message in problems:
        log.error("config reload rejected, keeping the previous config: %s: %s", where, message)


async def watch_config(
    path: Path,
    apply: Callable[[VeilConfig], None],
    *,
    interval: float = 1.0,
    settle: float = SETTLE_SECONDS,
    current: Callable[[], VeilConfig] | None = None,
    seen: tuple[int, int] | None = None,
) -> None:
    """Run forever: reload ``path`` whenever it changes and pass valid configs to ``apply``.
    ``current`` gives the config in force, against which a reload is judged; ``seen`` is the
    file's :func:`file_signature` taken before the config in force was read (a change made
    while the server started is then not missed)."""
    last = file_signature(path) if seen is None else seen
    while True:
        await asyncio.sleep(interval)
        signature = file_signature(path)
        if signature is None or signature == last:
            continue
        state = await read_when_stable(path, settle)
        if state is None:
            log.error("config reload skipped: %s did not stop changing; keeping the previous config", path)
            continue
        last = (state.mtime_ns, state.size)
        try:
            config = await asyncio.to_thread(load_config_bytes, state.content, path)
        except ConfigError as exc:
            _reject(exc.problems)
            continue
        refusal = reload_refusal(current(), config) if current is not None else None
        if refusal is not None:
            _reject([("<file>", refusal)])
            continue
        try:
            await asyncio.to_thread(apply, config)
        except ConfigError as exc:  # what only ``apply`` can judge (a source type's own keys)
            _reject(exc.problems)
            continue
        except Exception:
            log.exception("config reload failed; keeping the previous config")
            continue
        log.info("configuration reloaded from %s", path)
