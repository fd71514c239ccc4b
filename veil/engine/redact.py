"""Redaction of source error messages.

A source's error text may quote the value that failed (``Could not convert string
'4111111111111111' to INT32``, ``invalid input syntax for type integer: "alice@example.com"``),
and that value may be one the user is only allowed to see masked. Every quoted segment is
replaced, except double-quoted names of objects the user can see anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from veil.errors import VeilError

_SINGLE = re.compile(r"'(?:[^']|'')*'")
_DOUBLE = re.compile(r'"((?:[^"]|"")*)"')
REDACTED = "***"


def redact_message(message: str, known_names: Iterable[str]) -> str:
    names = set(known_names)
    message = _SINGLE.sub(f"'{REDACTED}'", message)
    return _DOUBLE.sub(lambda m: m.group(0) if m.group(1) in names else f'"{REDACTED}"', message)


def redact_error(error: VeilError, known_names: Iterable[str]) -> VeilError:
    names = list(known_names)
    return VeilError(
        error.sqlstate,
        redact_message(error.message, names),
        detail=redact_message(error.detail, names) if error.detail else None,
        hint=error.hint,
    )
