"""DuckDB exceptions as the PostgreSQL errors a client expects (SQLSTATE and wording).

Shared by DuckDB sources and the local engine; callers may pass ``rename`` to replace internal
names in the message (the local engine hides its emulation schemas this way).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import duckdb

from veil import errcodes
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
        return errcodes.DivisionByZero("division by zero")
    if isinstance(error, duckdb.InterruptException):
        return errcodes.QueryCanceled("canceling statement due to user request")
    if isinstance(error, duckdb.OutOfMemoryException):
        return errcodes.OutOfMemory("out of memory")
    if isinstance(error, duckdb.PermissionException):
        return errcodes.InsufficientPrivilege(message)
    if isinstance(error, duckdb.ConversionException):
        return errcodes.InvalidTextRepresentation(message)
    if isinstance(error, duckdb.OutOfRangeException):
        return errcodes.NumericValueOutOfRange(message)
    if isinstance(error, duckdb.ParserException):
        return errcodes.SyntaxError(message)
    if isinstance(error, duckdb.NotImplementedException):
        return errcodes.FeatureNotSupported(message)
    if isinstance(error, duckdb.CatalogException):
        if "function" in lowered or "macro" in lowered:
            return errcodes.UndefinedFunction(message)
        if "type" in lowered:
            return errcodes.UndefinedObject(message)
        return errcodes.UndefinedTable(message)
    if isinstance(error, duckdb.BinderException):
        if "column" in lowered:
            return errcodes.UndefinedColumn(message)
        if "function" in lowered:
            return errcodes.UndefinedFunction(message)
        if "group by" in lowered:
            return errcodes.GroupingError(message)
        return errcodes.DatatypeMismatch(message)
    if isinstance(error, duckdb.InvalidInputException):
        return errcodes.InvalidParameterValue(message)
    return errcodes.InternalError(message)


def translate_duckdb_error(error: BaseException, rename: Callable[[str], str] = lambda text: text) -> VeilError:
    if isinstance(error, VeilError):
        return error
    text = str(error)
    tagged = _TAGGED.search(text)
    if tagged:
        return VeilError(tagged.group(1), _clean(tagged.group(2), rename))
    return _by_class(error, _clean(text, rename))
