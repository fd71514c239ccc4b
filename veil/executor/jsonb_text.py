"""jsonb values DuckDB computed (as json text), printed as PostgreSQL prints jsonb.

PostgreSQL stores jsonb parsed: an object's keys are sorted (shorter keys first, then bytewise)
with the last of duplicate keys kept, numbers are numerics (``1e2`` prints ``100``, ``2.50``
keeps its scale), strings are unescaped, and the output puts one space after ``:`` and ``,``.
DuckDB's json keeps the text it was given. Only columns PostgreSQL types as jsonb and DuckDB
computed pass through here (a jsonb column of a PostgreSQL source arrives in its form already).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow as pa

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _string(text: str) -> str:
    """``escape_json``: the escapes above, other control characters as \\u00XX, the rest as is."""
    out = []
    for char in text:
        escaped = _ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char < " ":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _number(value: Decimal) -> str:
    text = format(value, "f")
    return text[1:] if text.startswith("-") and value == 0 else text


def _pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    return dict(pairs)  # the last of duplicate keys wins, as in jsonb


def _render(value: object) -> str:
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{_string(k)}: {_render(value[k])}" for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    if isinstance(value, str):
        return _string(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    assert isinstance(value, Decimal)
    return _number(value)


def jsonb_text(text: str) -> str:
    """One json text as PostgreSQL's jsonb prints it."""
    parsed = json.loads(text, parse_float=Decimal, parse_int=Decimal, object_pairs_hook=_pairs)
    return _render(parsed)


def jsonb_texts(column: pa.Array) -> pa.Array:
    """A string column of json texts as jsonb prints them (NULLs kept)."""
    return pa.array([None if v is None else jsonb_text(v) for v in column.to_pylist()], pa.string())
