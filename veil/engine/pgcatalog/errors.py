"""DuckDB errors from the local engine, as PostgreSQL errors a client can act on."""

from __future__ import annotations

import re

import duckdb

from veil.engine.pgcatalog.schema import DUCK_SCHEMAS, FUNCTION_SCHEMA
from veil.errors import VeilError

_TAGGED = re.compile(r"\[([0-9A-Z]{5})\] (.*)", re.DOTALL)
_PREFIX = re.compile(r"^[A-Za-z ]*Error: ")


_REWORDED = (
    (re.compile(r'Table "([^"]+)" does not have a column named "([^"]+)"'), r"column \1.\2 does not exist"),
    (re.compile(r'Referenced column "([^"]+)" not found in FROM clause!?'), r'column "\1" does not exist'),
)


def _clean(message: str) -> str:
    """DuckDB's message, first line only, in PostgreSQL's words where they differ, without
    Veil's internal schema names."""
    for pg_name, duck_name in DUCK_SCHEMAS.items():
        message = message.replace(f"{duck_name}.", f"{pg_name}.").replace(duck_name, pg_name)
    message = message.replace(f"{FUNCTION_SCHEMA}.", "")
    message = _PREFIX.sub("", message.strip()).split("\n")[0].strip()
    for pattern, replacement in _REWORDED:
        message = pattern.sub(replacement, message)
    return message


def translate(error: duckdb.Error) -> VeilError:
    text = str(error)
    tagged = _TAGGED.search(text)
    if tagged:
        return VeilError(tagged.group(1), _clean(tagged.group(2)))
    message = _clean(text)
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
        return VeilError("42804", message)
    if isinstance(error, duckdb.InvalidInputException):
        return VeilError("22023", message)
    return VeilError("XX000", message)
