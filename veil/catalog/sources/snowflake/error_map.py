"""Snowflake connector exceptions as the PostgreSQL errors a client expects.

Snowflake reports an error number (``errno``) and an ODBC-style SQLSTATE (``42S02``, ``42000``)
that PostgreSQL clients do not know; the number decides the PostgreSQL SQLSTATE. The message
keeps only the line that says what is wrong: Snowflake's "SQL compilation error:" and
"error line 1 at position 7" lines go, and so do emulator/DuckDB continuation lines that list
other objects ("Candidate bindings", "LINE 1: ..."). Quoted values left in it are redacted per
user by the engine (:mod:`veil.admin.redact`).
"""

from __future__ import annotations

import re

from veil.errors import VeilError

_BY_ERRNO: dict[int, str] = {
    2003: "42P01",  # object does not exist or not authorized
    2043: "42P01",  # object does not exist, or operation cannot be performed
    904: "42703",  # invalid identifier
    1003: "42601",  # syntax error
    1007: "42601",  # invalid syntax in a clause
    2140: "42883",  # unknown function
    2141: "42883",  # unknown user-defined function
    100051: "22012",  # division by zero
    100038: "22P02",  # numeric value is not recognized
    100035: "22003",  # conversion out of range
    100040: "22007",  # date is not recognized
    604: "57014",  # SQL execution canceled
    630: "57014",  # statement reached its timeout
    3001: "42501",  # insufficient privileges
    3041: "42501",  # does not exist or not authorized
    390100: "28P01",  # incorrect username or password
    390144: "28P01",  # JWT token is invalid
    390422: "28000",  # IP not allowed
    390112: "08006",  # session no longer exists
    390114: "08006",  # authentication token has expired
    250001: "08001",  # could not connect to Snowflake
    250003: "08001",  # failed to get the response
    251005: "28P01",  # user is empty
    251006: "28P01",  # password is empty
}
_NOISE = re.compile(
    r"^(SQL compilation error:?|error line \d+ at position \d+|LINE \d+:.*|\s*\^+\s*|Candidate bindings:.*)$",
    re.IGNORECASE,
)
_PREFIX = re.compile(r"^\d{6}(?: \([0-9A-Z]{5}\))?: (?:[0-9a-f-]{36}: )?")
_DUCKDB_PREFIX = re.compile(r"^[A-Za-z ]*Error: ")


def error_message(exc: BaseException) -> str:
    """The one line of a connector error that says what went wrong."""
    text = getattr(exc, "raw_msg", None) or getattr(exc, "msg", None) or str(exc)
    text = _PREFIX.sub("", str(text).strip())
    for line in text.splitlines():
        line = line.strip()
        if line and not _NOISE.match(line):
            return _DUCKDB_PREFIX.sub("", line).rstrip("!")
    return text.splitlines()[0] if text else type(exc).__name__


def sqlstate_for(exc: BaseException, message: str) -> str:
    errno = getattr(exc, "errno", None)
    if isinstance(errno, int) and errno in _BY_ERRNO:
        state = _BY_ERRNO[errno]
        if state == "42P01" and "column" in message.lower():
            return "42703"  # the emulator reports unknown columns as "object does not exist"
        return state
    lowered = message.lower()
    if "does not exist" in lowered:
        return "42703" if "column" in lowered else "42P01"
    if "syntax" in lowered or "unexpected" in lowered:
        return "42601"
    if "division by zero" in lowered:
        return "22012"
    if isinstance(errno, int) and 390000 <= errno < 391000:
        return "28000"
    if isinstance(errno, int) and 250000 <= errno < 260000:
        return "08006"
    return "XX000"


def map_snowflake_error(exc: BaseException) -> VeilError:
    if isinstance(exc, VeilError):
        return exc
    message = error_message(exc)
    return VeilError(sqlstate_for(exc, message), message)
