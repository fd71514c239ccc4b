"""Files and directories Veil creates hold what policies protect (audit records, cached
catalog and tags, spilled rows): they are created readable by Veil's own user only, files
0600 and directories 0700, whatever the process umask."""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


def private_directory(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700; an existing directory keeps its mode
    unless Veil created it."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    for created in missing:
        os.chmod(created, DIRECTORY_MODE)  # mkdir's mode is filtered by the umask
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty as 0600 if it does not exist; tighten it to 0600 if it does."""
    private_directory(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path
