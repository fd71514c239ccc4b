"""PostgreSQL identifier quoting and parsing (quote_ident, parse_ident, regclass text forms)."""

from __future__ import annotations

import re

from veil.pgcatalog.data.keywords import KEYWORDS

# Keywords that are not "unreserved" must be quoted to be used as identifiers.
QUOTED_KEYWORDS = frozenset(k.split(":")[0] for k in KEYWORDS if k.split(":")[1] != "U")
_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")


def quote_ident(name: str) -> str:
    if _PLAIN.fullmatch(name) and name not in QUOTED_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def parse_ident(text: str) -> list[str] | None:
    """Split ``a."B".c`` into parts, folding unquoted parts to lower case; None if malformed."""
    parts: list[str] = []
    pos, size = 0, len(text)
    while True:
        while pos < size and text[pos].isspace():
            pos += 1
        if pos < size and text[pos] == '"':
            end = pos + 1
            chunk = []
            while True:
                close = text.find('"', end)
                if close < 0:
                    return None
                chunk.append(text[end:close])
                if close + 1 < size and text[close + 1] == '"':
                    chunk.append('"')
                    end = close + 2
                    continue
                pos = close + 1
                break
            part = "".join(chunk)
        else:
            match = re.compile(r"[^.\s\"]+").match(text, pos)
            if match is None:
                return None
            part = match.group(0).lower()
            pos = match.end()
        parts.append(part)
        while pos < size and text[pos].isspace():
            pos += 1
        if pos == size:
            return parts
        if text[pos] != ".":
            return None
        pos += 1
