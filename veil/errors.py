"""Errors that reach the client as a PostgreSQL ErrorResponse.

Every layer raises :class:`VeilError` (or a subclass) with a SQLSTATE; the proxy turns it into
an ErrorResponse without knowing where it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar


@dataclass
class VeilError(Exception):
    """An error a client can act on: SQLSTATE, message and optional detail/hint/position."""

    sqlstate: str
    message: str
    detail: str | None = None
    hint: str | None = None
    position: int | None = None
    severity: str = "ERROR"

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.sqlstate}: {self.message}"


class SqlStateError(VeilError):
    """A :class:`VeilError` whose SQLSTATE is fixed by its class (the classes of
    :mod:`veil.errcodes`, one per PostgreSQL error code)."""

    SQLSTATE: ClassVar[str] = "XX000"

    def __init__(
        self,
        message: str,
        detail: str | None = None,
        hint: str | None = None,
        position: int | None = None,
        severity: str = "ERROR",
    ) -> None:
        super().__init__(self.SQLSTATE, message, detail, hint, position, severity)


class SqlSyntaxError(VeilError):
    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__("42601", message, position=position)


class UndefinedTable(VeilError):
    def __init__(self, name: str) -> None:
        super().__init__("42P01", f'relation "{name}" does not exist')


class UndefinedColumn(VeilError):
    def __init__(self, message: str) -> None:
        super().__init__("42703", message)


FUNCTION_HINT = "No function matches the given name and argument types. You might need to add explicit type casts."


class UndefinedFunction(VeilError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__("42883", message, hint=hint)


class FeatureNotSupported(VeilError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__("0A000", message, hint=hint)


class ReadOnlyViolation(VeilError):
    """Veil serves queries only: any statement that writes or reaches outside is refused."""

    def __init__(self, message: str) -> None:
        super().__init__("25006", message, hint="Veil is a read-only query proxy.")


class InsufficientPrivilege(VeilError):
    def __init__(self, message: str) -> None:
        super().__init__("42501", message)


class QueryCanceled(VeilError):
    def __init__(self, message: str = "canceling statement due to user request") -> None:
        super().__init__("57014", message)


class InFailedTransaction(VeilError):
    def __init__(self) -> None:
        super().__init__(
            "25P02",
            "current transaction is aborted, commands ignored until end of transaction block",
        )


class ProtocolViolation(VeilError):
    def __init__(self, message: str) -> None:
        super().__init__("08P01", message)


class InvalidParameterValue(VeilError):
    def __init__(self, message: str) -> None:
        super().__init__("22023", message)


class InvalidTextRepresentation(VeilError):
    def __init__(self, message: str) -> None:
        super().__init__("22P02", message)


class InvalidPassword(VeilError):
    def __init__(self, user: str) -> None:
        super().__init__("28P01", f'password authentication failed for user "{user}"')


class ConfigError(Exception):
    """A configuration problem, located by its YAML path (for example ``users.alice.password``)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{path}: {message}" for path, message in problems))


class StatementTimeout(QueryCanceled):
    """A source statement ran longer than its connection's ``statement_timeout``."""

    def __init__(self, connection: str | None = None, seconds: float | None = None) -> None:
        super().__init__("canceling statement due to statement timeout")
        if connection is not None and seconds is not None:
            self.hint = f'the statement on connection "{connection}" did not finish within {seconds:g}s (connections.{connection}.statement_timeout)'


# What an engine or driver puts around a message; a client of PostgreSQL never sees these.
_ENGINE_PREFIXES = re.compile(
    r"\b(?:Binder|Catalog|Parser|Conversion|Invalid Input|Out of Range|Not implemented|Constraint|IO|HTTP"
    r"|Serialization|Transaction|Permission|Internal|Fatal|Interrupt|Out of Memory|Dependency|Syntax"
    r"|Invalid Configuration|Sequence|Missing Extension|Invalid type|Type mismatch|Expression|Connection"
    r"|Unknown|Settings|Optimizer|Planner|Executor|Invalid|Parameter Not Allowed|Parameter Not Resolved) Error: "
    r"|\[libpq\]\s*"
    r"|\b(?:INVALID_DATA|NOT_FOUND|INVALID_ARGUMENT|INTERNAL|IO|UNKNOWN|CANCELLED|ALREADY_EXISTS|INVALID_STATE"
    r"|NOT_IMPLEMENTED|TIMEOUT|UNAUTHENTICATED|UNAUTHORIZED|INTEGRITY): "
    r"|(?:Failed to (?:prepare|execute) (?:query|prepared statement)|Execution error)(?: \[PGRES_[A-Z_]+\])?: "
    r"|\bPGRES_[A-Z_]+\s*|\b(?:ERROR|FATAL):\s+"
)
_PYTHON_CLASS = re.compile(r"\s*(?:for )?<class '[\w.]+'>")
_LEFT_OVER = re.compile(r"\bsqlglot\.\w|Traceback \(most recent call last\)|\b_?duckdb\.\w+(?:Exception|Error)\b|\badbc_driver_\w+|\bpsycopg\.errors\b")


def _plain(text: str) -> str:
    text = _PYTHON_CLASS.sub("", _ENGINE_PREFIXES.sub("", text)).strip()
    return text.split("\n", 1)[0].strip() if _LEFT_OVER.search(text) else text


def client_error(error: VeilError) -> VeilError:
    """``error`` as a PostgreSQL client may see it: whatever layer let an engine's or driver's
    wording through ("Binder Error: ", "[libpq] ", "sqlglot", a Python class or traceback), the
    prefix is removed, and a message still naming an engine is replaced by a plain one."""
    message = _plain(error.message)
    if _LEFT_OVER.search(message):
        message = "syntax error" if error.sqlstate == "42601" else "the statement could not be processed"
    detail = _plain(error.detail) if error.detail else None
    hint = _plain(error.hint) if error.hint else None
    if detail is not None and _LEFT_OVER.search(detail):
        detail = None
    if hint is not None and _LEFT_OVER.search(hint):
        hint = None
    if (message, detail, hint) == (error.message, error.detail, error.hint):
        return error
    return VeilError(error.sqlstate, message, detail=detail, hint=hint, position=error.position, severity=error.severity)
