"""DuckDB exceptions as the PostgreSQL errors a client expects (SQLSTATE and wording).

Shared by DuckDB sources and the local engine; callers may pass ``rename`` to replace internal
names in the message (the local engine hides its emulation schemas this way).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import duckdb

from veil.errors import VeilError

_TAGGED = re.compile(r"\[([0-9A-Z]{5})\] (.*)", re.DOTALL)
_PREFIX = re.compile(r"^[A-Za-z ]*Error: ")
_REWORDED = (
    (re.compile(r'Table "([^"]+)" does not have a column named "([^"]+)"'), r"column \1.\2 does not exist"),
    (re.compile(r'Referenced column "([^"]+)" not found in FROM clause!?'), r'column "\1" does not exist'),
)


def _clean(message: str, rename: Callable[[str], str]) -> str:
    """First line only (DuckDB appends "Did you mean" hints naming other objects), without the
    "X Error:" prefix, in PostgreSQL's words where they differ."""
    message = _PREFIX.sub("", rename(message).strip()).split("\n")[0].strip()
    for pattern, replacement in _REWORDED:
        message = pattern.sub(replacement, message)
    return message


def _by_class(error: BaseException, message: str) -> VeilError:
    lowered = message.lower()
    if "division by zero" in lowered:
        return VeilError("22012", "division by zero")
    if isinstance(error, duckdb.InterruptException):
        return VeilError("57014", "canceling statement due to user request")
    if isinstance(error, duckdb.OutOfMemoryException):
        return VeilError("53200", "out of memory")
    if isinstance(error, duckdb.PermissionException):
        return VeilError("42501", message)
    if isinstance(error, duckdb.ConversionException):
        return VeilError("22P02", message)
    if isinstance(error, duckdb.OutOfRangeException):
        return VeilError("22003", message)
    if isinstance(error, duckdb.ParserException):
        return VeilError("42601", message)
    if isinstance(error, duckdb.NotImplementedException):
        return VeilError("0A000", message)
    if isinstance(error, duckdb.CatalogException):
        if "function" in lowered or "macro" in lowered:
            return VeilError("42883", message)
        if "type" in lowered:
            return VeilError("42704", message)
        return VeilError("42P01", message)
    if isinstance(error, duckdb.BinderException):
        if "column" in lowered:
            return VeilError("42703", message)
        if "function" in lowered:
            return VeilError("42883", message)
        if "group by" in lowered:
            return VeilError("42803", message)
        return VeilError("42804", message)
    if isinstance(error, duckdb.InvalidInputException):
        return VeilError("22023", message)
    return VeilError("XX000", message)


def translate_duckdb_error(error: BaseException, rename: Callable[[str], str] = lambda text: text) -> VeilError:
    if isinstance(error, VeilError):
        return error
    text = str(error)
    tagged = _TAGGED.search(text)
    if tagged:
        return VeilError(tagged.group(1), _clean(tagged.group(2), rename))
    return _by_class(error, _clean(text, rename))
