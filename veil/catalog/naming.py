"""SQL names for source objects: naming formats with macros, lower-cased, sanitised."""

from __future__ import annotations

import re

_INVALID = re.compile(r"[^a-z0-9_]")


def sanitize(name: str) -> str:
    """Lower-case and replace characters that would need quoting with ``_``."""
    cleaned = _INVALID.sub("_", name.lower())
    if not cleaned or cleaned[0].isdigit():
        cleaned = "_" + cleaned
    return cleaned


def apply_format(fmt: str, *, connection: str, database: str | None, schema: str, table: str) -> str:
    """Expand ``<connection> <database> <schema> <tablename>`` in a naming format."""
    expanded = (
        fmt.replace("<connection>", connection)
        .replace("<database>", database or "")
        .replace("<schema>", schema)
        .replace("<tablename>", table)
    )
    return sanitize(expanded)
