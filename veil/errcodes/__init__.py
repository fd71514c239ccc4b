"""One exception class per PostgreSQL error SQLSTATE: ``raise errcodes.FeatureNotSupported(msg)``
sends SQLSTATE 0A000 like ``VeilError("0A000", msg)`` did, and names the condition.

The codes are data: ``errcodes.txt`` beside this module is PostgreSQL 15's
src/backend/utils/errcodes.txt, unchanged (Debian's postgresql-15 installs the same file as
/usr/share/postgresql/15/errcodes.txt). At import each error line ``sqlstate E ERRCODE_MACRO
spec_name`` becomes a class named as psycopg names it (``division_by_zero`` -> ``DivisionByZero``),
listed in :data:`BY_SQLSTATE` and set as an attribute of this module. Lines without a spec name
(aliases of a listed code) are left out, as are success and warning codes (Veil only raises
errors). A spec name PostgreSQL gives two codes names the first; the second (an external routine
exception) adds ``Ext``.

The classes Veil raises are written out below, so that mypy checks every use by name; they are
the very classes of the table, and one whose name or SQLSTATE the file does not list fails the
import. To raise another condition, write its class here.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from veil.errors import SqlStateError


class SqlclientUnableToEstablishSqlconnection(SqlStateError):
    SQLSTATE = "08001"


class ConnectionDoesNotExist(SqlStateError):
    SQLSTATE = "08003"


class ConnectionFailure(SqlStateError):
    SQLSTATE = "08006"


class ProtocolViolation(SqlStateError):
    SQLSTATE = "08P01"


class FeatureNotSupported(SqlStateError):
    SQLSTATE = "0A000"


class CardinalityViolation(SqlStateError):
    SQLSTATE = "21000"


class DataException(SqlStateError):
    SQLSTATE = "22000"


class NumericValueOutOfRange(SqlStateError):
    SQLSTATE = "22003"


class InvalidDatetimeFormat(SqlStateError):
    SQLSTATE = "22007"


class DatetimeFieldOverflow(SqlStateError):
    SQLSTATE = "22008"


class DivisionByZero(SqlStateError):
    SQLSTATE = "22012"


class IntervalFieldOverflow(SqlStateError):
    SQLSTATE = "22015"


class InvalidArgumentForLogarithm(SqlStateError):
    SQLSTATE = "2201E"


class InvalidArgumentForPowerFunction(SqlStateError):
    SQLSTATE = "2201F"


class InvalidRowCountInLimitClause(SqlStateError):
    SQLSTATE = "2201W"


class SubstringError(SqlStateError):
    SQLSTATE = "22011"


class CharacterNotInRepertoire(SqlStateError):
    SQLSTATE = "22021"


class InvalidParameterValue(SqlStateError):
    SQLSTATE = "22023"


class InvalidTextRepresentation(SqlStateError):
    SQLSTATE = "22P02"


class InvalidRegularExpression(SqlStateError):
    SQLSTATE = "2201B"


class InvalidRowCountInResultOffsetClause(SqlStateError):
    SQLSTATE = "2201X"


class DuplicateColumn(SqlStateError):
    SQLSTATE = "42701"


class UntranslatableCharacter(SqlStateError):
    SQLSTATE = "22P05"


class CheckViolation(SqlStateError):
    SQLSTATE = "23514"


class InvalidTransactionState(SqlStateError):
    SQLSTATE = "25000"


class NoActiveSqlTransaction(SqlStateError):
    SQLSTATE = "25P01"


class InvalidSqlStatementName(SqlStateError):
    SQLSTATE = "26000"


class InvalidAuthorizationSpecification(SqlStateError):
    SQLSTATE = "28000"


class InvalidPassword(SqlStateError):
    SQLSTATE = "28P01"


class InvalidCursorName(SqlStateError):
    SQLSTATE = "34000"


class InvalidCatalogName(SqlStateError):
    SQLSTATE = "3D000"


class InvalidSchemaName(SqlStateError):
    SQLSTATE = "3F000"


class InsufficientPrivilege(SqlStateError):
    SQLSTATE = "42501"


class SyntaxError(SqlStateError):
    SQLSTATE = "42601"


class AmbiguousColumn(SqlStateError):
    SQLSTATE = "42702"


class UndefinedColumn(SqlStateError):
    SQLSTATE = "42703"


class UndefinedObject(SqlStateError):
    SQLSTATE = "42704"


class AmbiguousFunction(SqlStateError):
    SQLSTATE = "42725"


class GroupingError(SqlStateError):
    SQLSTATE = "42803"


class DatatypeMismatch(SqlStateError):
    SQLSTATE = "42804"


class CannotCoerce(SqlStateError):
    SQLSTATE = "42846"


class UndefinedFunction(SqlStateError):
    SQLSTATE = "42883"


class UndefinedTable(SqlStateError):
    SQLSTATE = "42P01"


class DuplicateCursor(SqlStateError):
    SQLSTATE = "42P03"


class DuplicatePreparedStatement(SqlStateError):
    SQLSTATE = "42P05"


class InvalidColumnReference(SqlStateError):
    SQLSTATE = "42P10"


class InvalidRecursion(SqlStateError):
    SQLSTATE = "42P19"


class WindowingError(SqlStateError):
    SQLSTATE = "42P20"


class OutOfMemory(SqlStateError):
    SQLSTATE = "53200"


class ProgramLimitExceeded(SqlStateError):
    SQLSTATE = "54000"


class StatementTooComplex(SqlStateError):
    SQLSTATE = "54001"


class ObjectNotInPrerequisiteState(SqlStateError):
    SQLSTATE = "55000"


class CantChangeRuntimeParam(SqlStateError):
    SQLSTATE = "55P02"


class QueryCanceled(SqlStateError):
    SQLSTATE = "57014"


class SystemError(SqlStateError):
    SQLSTATE = "58000"


class IoError(SqlStateError):
    SQLSTATE = "58030"


class ConfigFileError(SqlStateError):
    SQLSTATE = "F0000"


class InternalError(SqlStateError):
    SQLSTATE = "XX000"


def class_name(spec_name: str) -> str:
    """``invalid_text_representation`` -> ``InvalidTextRepresentation`` (as psycopg names it)."""
    return "".join(part.capitalize() for part in spec_name.split("_"))


def error_codes(text: str) -> list[tuple[str, str, str]]:
    """(sqlstate, spec name, section) of every error line of an errcodes.txt with a spec name,
    in the file's order."""
    found: list[tuple[str, str, str]] = []
    section = ""
    for line in text.splitlines():
        if line.startswith("Section:"):
            section = line.removeprefix("Section:").strip()
            continue
        fields = line.split()
        if len(fields) == 4 and fields[1] == "E" and not line.startswith("#"):
            found.append((fields[0], fields[3], section))
    return found


def _table() -> dict[str, type[SqlStateError]]:
    written = {
        name: value
        for name, value in globals().items()
        if isinstance(value, type) and issubclass(value, SqlStateError) and value is not SqlStateError
    }
    text = (Path(__file__).parent / "errcodes.txt").read_text(encoding="utf-8")
    table: dict[str, type[SqlStateError]] = {}
    named: set[str] = set()
    for sqlstate, spec_name, section in error_codes(text):
        name = class_name(spec_name)
        name = name + "Ext" if name in named else name
        named.add(name)
        cls = written.pop(name, None)
        if cls is None:
            cls = cast(
                type[SqlStateError], type(name, (SqlStateError,), {"SQLSTATE": sqlstate, "__module__": __name__})
            )
        elif sqlstate != cls.SQLSTATE:
            raise ImportError(f"errcodes.{name} sends {cls.SQLSTATE}, PostgreSQL's {spec_name} is {sqlstate}")
        cls.__doc__ = f"{sqlstate} ({section})."
        table[sqlstate] = cls
    if written:
        raise ImportError(f"not PostgreSQL 15 error conditions: {sorted(written)}")
    return table


BY_SQLSTATE: dict[str, type[SqlStateError]] = _table()
globals().update({cls.__name__: cls for cls in BY_SQLSTATE.values()})
