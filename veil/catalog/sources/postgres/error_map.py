"""A PostgreSQL driver error (ADBC, libpq) as the PostgreSQL error it stands for: the SQLSTATE
the driver carries, else the one the server's own wording names."""

from __future__ import annotations

import re

from veil import errcodes
from veil.errors import VeilError

_SQLSTATE = re.compile(r"^[0-9A-Z]{5}$")
# ADBC's status ("NOT_FOUND: ", "INVALID_DATA: "...), libpq's tag and the driver's step ("Failed to
# execute prepared statement: PGRES_FATAL_ERROR ", "could not begin COPY: "...) before the server's
# "ERROR:  " and its message.
_STATUS = re.compile(r"^[A-Z_]+: ")
_SERVER_MESSAGE = re.compile(r"(?:^|[:\]\s])\s*(?:ERROR|FATAL):\s+(.*)", re.DOTALL)
_DRIVER_STEP = re.compile(r"^(?:\[libpq\]\s*)?(?:(?:[A-Z][a-z]+ (?:error|[a-z ]+))(?: \[PGRES_[A-Z_]+\])?:\s*)*(?:PGRES_[A-Z_]+\s+)?")
_HINT = re.compile(r"^HINT:\s+(.*)$", re.MULTILINE)
# What libpq reports without a SQLSTATE when the server ends the session (ADBC then gives none).
_BY_MESSAGE = (
    ("terminating connection due to administrator command", "57P01"),
    ("terminating connection due to idle", "57P05"),
    ("the database system is shutting down", "57P03"),
    ("the database system is starting up", "57P03"),
    ("canceling statement due to statement timeout", "57014"),
    ("canceling statement due to user request", "57014"),
    ("server closed the connection unexpectedly", "08006"),
    ("no connection to the server", "08003"),
    ("connection to server", "08006"),
    ("could not receive data from server", "08006"),
    ("could not send data to server", "08006"),
)


# A statement that fails while ADBC streams its result raises an OSError without the SQLSTATE
# (libpq's "Execution error [PGRES_FATAL_ERROR]: ERROR:  ..."): the server's own wording of its
# runtime errors (PostgreSQL 15, src/backend/utils/adt) names the code.
_RUNTIME = tuple((re.compile(pattern), code) for pattern, code in (
    (r"^division by zero$", "22012"),
    (r"^invalid input syntax for type (?:date|time|timestamp|interval)", "22007"),
    (r"^invalid input syntax for type |^invalid input value for enum |^malformed \w+ literal", "22P02"),
    ((r"^(?:smallint|integer|bigint|numeric|OID) out of range$|^value out of range: (?:over|under)flow$"
      r"|^numeric field overflow$|^\w+ out of range for type"), "22003"),
    (r"^(?:date/time field value|timestamp|date|interval|time) out of range", "22008"),
    (r"^value too long for type ", "22001"),
    ((r"^cannot take square root of a negative number$|^zero raised to a negative power is undefined$"
      r"|^a negative number raised to a non-integer power yields a complex result$"), "2201F"),
    (r"^cannot take logarithm of ", "2201E"),
    (r"^more than one row returned by a subquery used as an expression$", "21000"),
    (r"^invalid regular expression", "2201B"),
    (r"^negative substring length not allowed$", "22011"),
    (r'^value ".*" is out of range for type |^".*" is out of range for type ', "22003"),
    (r"^(?:date|time|timestamp) field value out of range", "22008"),
    (r"^interval field value out of range", "22015"),
    (r'^unit ".*" not supported for type ', "0A000"),
    (r'^unit ".*" not recognized for type |^field position must not be zero$|^character number must be positive$'
     r"|^invalid hexadecimal (?:digit|data)|^invalid base64|^invalid symbol|^unrecognized encoding|"
     r"^time zone .* not recognized$", "22023"),
    (r"^requested character too large for encoding|^null character not permitted$|^requested length too large$", "54000"),
    (r'^invalid value ".*" for "|^(?:invalid|conflicting values for) .* field in format string', "22007"),
    (r"^invalid escape string$", "22025"),
    (r"^value too long for type |^bit string length \d+ does not match type", "22001"),
    (r"^array subscript out of range$", "2202E"),
    (r"^LIMIT must not be negative$", "2201W"),
    (r"^OFFSET must not be negative$", "2201X"),
    (r"^canceling statement due to lock timeout$", "55P03"),
    (r"^deadlock detected$", "40P01"),
    (r"^could not serialize access", "40001"),
    (r"^out of memory$", "53200"),
    (r"^permission denied for ", "42501"),
))


def server_text(text: str) -> tuple[str, str | None]:
    """The server's own message (first line) and hint out of a driver error's text, without the
    driver's status, libpq tag, step and ``Query was: ...`` / ``SQLSTATE: ...`` trailer. A hint
    that quotes anything (a column it suggests, a value) is dropped: it may name what the user
    can not see."""
    text = _STATUS.sub("", text.strip())
    server = _SERVER_MESSAGE.search(text)
    if server is not None:
        body = server.group(1)
        hint = _HINT.search(body)
        hint_text = hint.group(1).strip() if hint and not re.search("[\"']", hint.group(1)) else None
        message = body.split("\n", 1)[0]
    else:
        message, hint_text = _DRIVER_STEP.sub("", text.split("\n", 1)[0]), None
    message = re.sub(r"\s*\.?\s*SQLSTATE: [0-9A-Z]{5}$", "", message.strip()).removesuffix(".").strip()
    return message, hint_text


def map_postgres_error(exc: BaseException) -> VeilError:
    """The PostgreSQL error a driver error stands for: the driver's SQLSTATE when it is a valid
    code, else the one libpq's message names (a terminated backend is 57P01), else for an error
    the server raised 22000 (a runtime error while its result streamed), else XX000; the message
    as the server worded it."""
    message, hint = server_text(str(exc))
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and _SQLSTATE.match(sqlstate):
        return VeilError(sqlstate, message, hint=hint)
    lowered = str(exc).lower()
    for text, code in _BY_MESSAGE:
        if text in lowered:
            return VeilError(code, message, hint=hint)
    for pattern, code in _RUNTIME:
        if pattern.search(message):
            return VeilError(code, message, hint=hint)
    if _SERVER_MESSAGE.search(_STATUS.sub("", str(exc).strip())) is not None:
        # the server's error while the result streamed: one about the data it computes
        return errcodes.DataException(message, hint=hint)
    return errcodes.InternalError(message, hint=hint)
