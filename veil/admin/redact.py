"""Redaction of source error messages.

A source's error text may quote the value that failed (``Could not convert string
'4111111111111111' to INT32``, ``invalid input syntax for type integer: "alice@example.com"``),
and that value may be one the user is only allowed to see masked. Every quoted segment is
replaced, except double-quoted names of objects the user can see anyway.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable

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


SECRET = "[secret]"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every configured secret (as written, and as JSON escapes it) replaced."""
    for secret in secrets:
        for spelling in {secret, json.dumps(secret)[1:-1]}:
            if spelling and spelling in text:
                text = text.replace(spelling, SECRET)
    return text


def scrub_error(error: VeilError, secrets: Iterable[str]) -> VeilError:
    values = tuple(secrets)
    if not values:
        return error
    return VeilError(
        error.sqlstate,
        scrub(error.message, values),
        detail=scrub(error.detail, values) if error.detail else None,
        hint=scrub(error.hint, values) if error.hint else None,
    )


class SecretsLogFilter(logging.Filter):
    """Scrubs the configured secrets (read at each record: a reload may change them) from log
    messages before any handler writes them."""

    def __init__(self, secrets: Callable[[], Iterable[str]]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        values = tuple(self._secrets())
        if values:
            message = record.getMessage()
            scrubbed = scrub(message, values)
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
            if record.exc_info and not record.exc_text:
                record.exc_text = scrub(logging.Formatter().formatException(record.exc_info), values)
        return True
