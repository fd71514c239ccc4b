"""DuckDB exceptions as the PostgreSQL errors a client expects (SQLSTATE and wording).

Shared by DuckDB sources and the local engine; callers may pass ``rename`` to replace internal
names in the message (the local engine hides its emulation schemas this way).

DuckDB's messages are matched by their wording first (each rule gives PostgreSQL's SQLSTATE,
message and hint for that kind of error, whatever DuckDB exception class carries it), then by the
exception class; whatever is left keeps DuckDB's first line without its "X Error:" prefix.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from veil import errcodes
from veil.errors import FUNCTION_HINT, SqlStateError, VeilError

_TAGGED = re.compile(r"\[([0-9A-Z]{5})\] (.*)", re.DOTALL)
_PREFIX = re.compile(r"^[A-Za-z ]*Error: ")

OPERATOR_HINT = "No operator matches the given name and argument types. You might need to add explicit type casts."
_FORWARD_HINT = "Use WITH RECURSIVE, or re-order the WITH items to remove forward references."

# DuckDB's type names (and its literal pseudo-types) as PostgreSQL spells them in messages.
_TYPE_NAMES = {
    "STRING_LITERAL": "unknown", "INTEGER_LITERAL": "integer", "VARCHAR": "text", "STRING": "text",
    "BOOL": "boolean", "BOOLEAN": "boolean", "TINYINT": "smallint", "INT8": "smallint",
    "SMALLINT": "smallint", "INT16": "smallint", "INTEGER": "integer", "INT32": "integer", "INT": "integer",
    "BIGINT": "bigint", "INT64": "bigint", "HUGEINT": "numeric", "INT128": "numeric", "UTINYINT": "smallint",
    "USMALLINT": "integer", "UINTEGER": "bigint", "UBIGINT": "numeric", "UHUGEINT": "numeric",
    "FLOAT": "real", "DOUBLE": "double precision", "DECIMAL": "numeric", "DATE": "date",
    "TIME": "time without time zone", "TIMESTAMP": "timestamp without time zone",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone", "TIMESTAMP_NS": "timestamp without time zone",
    "TIMESTAMP_MS": "timestamp without time zone", "TIMESTAMP_S": "timestamp without time zone",
    "TIME WITH TIME ZONE": "time with time zone", "INTERVAL": "interval", "UUID": "uuid", "BLOB": "bytea",
    "JSON": "json", "NULL": "unknown",
}
_DATETIME = {"date", "time without time zone", "timestamp without time zone", "timestamp with time zone",
             "time with time zone", "interval"}


def pg_type(duck: str) -> str:
    """A DuckDB type name as PostgreSQL names it: ``INT32`` is ``integer``, ``DECIMAL(5,2)`` is
    ``numeric``, ``VARCHAR[]`` is ``text[]``; an unknown name in lower case."""
    name = duck.strip()
    if name.endswith("[]"):
        return pg_type(name[:-2]) + "[]"
    base = re.sub(r"\(.*\)$", "", name).strip().upper()
    return _TYPE_NAMES.get(base, name.lower())


def _out_of_range(duck: str) -> str:
    name = pg_type(duck)
    return f"{name} out of range" if name in ("smallint", "integer", "bigint") else "numeric field overflow" if name == "numeric" else "value out of range: overflow"


def _call(name: str, arguments: str) -> tuple[bool, str]:
    """(is an operator, the call as PostgreSQL prints it: ``text + integer`` or ``foo(text)``)."""
    types = [pg_type(t) for t in re.split(r",\s*", arguments)] if arguments.strip() else []
    if re.fullmatch(r"[^\w\s]+", name):
        return True, f"{name} {types[0]}" if len(types) == 1 else f"{types[0]} {name} {types[1]}" if len(types) == 2 else name
    return False, f"{name}({', '.join(types)})"


def _no_match(m: re.Match[str]) -> VeilError:
    operator, call = _call(m.group(1), m.group(2))
    if operator:
        return errcodes.UndefinedFunction(f"operator does not exist: {call}", hint=OPERATOR_HINT)
    return errcodes.UndefinedFunction(f"function {call} does not exist", hint=FUNCTION_HINT)


def _not_unique(m: re.Match[str]) -> VeilError:
    operator, call = _call(m.group(1), m.group(2))
    what = "operator" if operator else "function"
    return errcodes.AmbiguousFunction(f"{what} {'is not unique: ' + call if operator else call + ' is not unique'}",
                     hint=f"Could not choose a best candidate {what}. You might need to add explicit type casts.")


# the type names PostgreSQL's input functions print, where they differ from the types' own
_INPUT_NAMES = {"timestamp without time zone": "timestamp", "time without time zone": "time"}


def _bad_input(m: re.Match[str]) -> VeilError:
    name = pg_type(m.group("type"))
    name = _INPUT_NAMES.get(name, name)
    error = errcodes.InvalidDatetimeFormat if name in _DATETIME or name in ("timestamp", "time") else errcodes.InvalidTextRepresentation
    return error(f'invalid input syntax for type {name}: "{m.group("value")}"')


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    build: Callable[[re.Match[str]], VeilError]


def _rule(pattern: str, build: Callable[[re.Match[str]], VeilError]) -> _Rule:
    return _Rule(re.compile(pattern, re.DOTALL), build)


def _fixed(error: type[SqlStateError], message: str, hint: str | None = None) -> Callable[[re.Match[str]], VeilError]:
    return lambda m: error(m.expand(message), hint=hint)


def _integer_kind(value: str) -> str:
    """The PostgreSQL integer type whose minimum ``value`` is (DuckDB's abs and negation overflow
    only there)."""
    return {"-32768": "smallint", "-2147483648": "integer"}.get(value.strip(), "bigint")


def _string_out_of_range(m: re.Match[str]) -> VeilError:
    """``'99999'`` to smallint: a number, out of the type's range (PostgreSQL says so, 22003)."""
    name = pg_type(m.group("type"))
    if name in ("smallint", "integer", "bigint") and re.fullmatch(r"\s*[+-]?\d+\s*", m.group("value")):
        return errcodes.NumericValueOutOfRange(f'value "{m.group("value")}" is out of range for type {name}')
    return _bad_input(m)


def _make_date(m: re.Match[str]) -> VeilError:
    year, month, day = m.group(1), m.group(2).zfill(2), m.group(3).zfill(2)  # PostgreSQL: %d-%02d-%02d
    return errcodes.DatetimeFieldOverflow(f"date field value out of range: {year}-{month}-{day}")


def _codepoint(m: re.Match[str]) -> VeilError:
    point = int(m.group(1))
    if point < 0:
        return errcodes.InvalidParameterValue("character number must be positive")
    if point == 0:
        return errcodes.ProgramLimitExceeded("null character not permitted")
    return errcodes.ProgramLimitExceeded(f"requested character too large for encoding: {point}")


# RE2's complaints as PostgreSQL's regex library words them (its messages after "invalid regular
# expression: "); any other RE2 complaint keeps its own words after that prefix.
_REGEX_WORDS = (
    (r"missing \]|missing closing \]", "brackets [] not balanced"),
    (r"missing \)|unexpected \)", "parentheses () not balanced"),
    (r"missing argument to repetition operator|bad repetition operator|no argument for repetition operator",
     "quantifier operand invalid"),
    (r"invalid repetition size", "invalid repetition count(s)"),
    (r"trailing \\|invalid escape sequence", "invalid escape \\ sequence"),
    (r"invalid character class range", "invalid character range"),
    (r"invalid character class", "invalid character class"),
)
_RE2 = (
    r"^(missing \]|missing closing \]|missing \)|unexpected \)|missing argument to repetition operator|"
    r"bad repetition operator|no argument for repetition operator|invalid repetition size|trailing \\|invalid escape sequence|"
    r"invalid character class(?: range)?|invalid named capture group|invalid perl operator|"
    r"invalid UTF-8|pattern too large|bad inline flag|invalid nested repetition operator)"
)


def _regex(m: re.Match[str]) -> VeilError:
    for pattern, words in _REGEX_WORDS:
        if re.match(pattern, m.group(1)):
            return errcodes.InvalidRegularExpression(f"invalid regular expression: {words}")
    return errcodes.InvalidRegularExpression(f"invalid regular expression: {m.group(1)}")


_RULES = (
    _rule(r"(?i)division by zero", _fixed(errcodes.DivisionByZero, "division by zero")),
    _rule(r"^(?:Scalar |Aggregate |Table |Pragma )?(?:Function|Macro Function) with name \"?([^\s\"]+?)\"? does not exist",
          _fixed(errcodes.UndefinedFunction, r"function \1 does not exist", FUNCTION_HINT)),
    _rule(r"^No function matches the given name and argument types '(.+?)\((.*)\)'", _no_match),
    _rule(r'^Could not choose a best candidate function for the function call "(.+?)\((.*)\)"', _not_unique),
    _rule(r'^Table with name "?([^\s"]+?)"? does not exist', _fixed(errcodes.UndefinedTable, r'relation "\1" does not exist')),
    _rule(r'^Schema with name "?([^\s"]+?)"? does not exist', _fixed(errcodes.InvalidSchemaName, r'schema "\1" does not exist')),
    _rule(r'^Type with name "?([^\s"]+?)"? does not exist', _fixed(errcodes.UndefinedObject, r'type "\1" does not exist')),
    _rule(r'^Circular reference to CTE "([^"]+)"', _fixed(errcodes.UndefinedTable, r'relation "\1" does not exist', _FORWARD_HINT)),
    _rule(r'^Referenced table "([^"]+)" not found', _fixed(errcodes.UndefinedTable, r'missing FROM-clause entry for table "\1"')),
    _rule(r'^Ambiguous reference to (?:column name|table) "([^"]+)"', _fixed(errcodes.AmbiguousColumn, r'column reference "\1" is ambiguous')),
    _rule(r'^(?:Table|Values list|Table Function) "([^"]+)" does not have a column named "([^"]+)"',
          _fixed(errcodes.UndefinedColumn, r"column \1.\2 does not exist")),
    _rule(r'^Referenced column "([^"]+)" not found in FROM clause', _fixed(errcodes.UndefinedColumn, r'column "\1" does not exist')),
    _rule(r'^(?:Referenced )?[Cc]olumn "([^"]+)" (?:not found|does not exist)', _fixed(errcodes.UndefinedColumn, r'column "\1" does not exist')),
    _rule(r'^column "([^"]+)" must appear in the GROUP BY clause',
          _fixed(errcodes.GroupingError, r'column "\1" must appear in the GROUP BY clause or be used in an aggregate function')),
    _rule(r"^aggregate function calls cannot be nested", _fixed(errcodes.GroupingError, "aggregate function calls cannot be nested")),
    _rule(r"^(WHERE|GROUP BY|JOIN|HAVING) clause cannot contain aggregates",
          _fixed(errcodes.GroupingError, r"aggregate functions are not allowed in \1")),
    _rule(r"^(?:WHERE|GROUP BY|JOIN) clause cannot contain window functions|^Window functions are not supported",
          _fixed(errcodes.WindowingError, "window functions are not allowed here")),
    _rule(r"^Could not convert string (?P<q>['\"])(?P<value>.*?)(?P=q) to (?P<type>[A-Z][A-Z0-9_ ]*(?:\([0-9, ]*\))?(?:\[\])?)", _string_out_of_range),
    _rule(r'^invalid (?P<type>date|time|timestamp|interval) field format: "(?P<value>[^"]*)"', _bad_input),
    _rule(r'^(?:date|time|timestamp|date/time) field value out of range: "([^"]*)"',
          _fixed(errcodes.DatetimeFieldOverflow, r'date/time field value out of range: "\1"')),
    _rule(r"^Type (\S+) with value .* can't be cast because the value is out of range for the destination type (\S+)",
          lambda m: errcodes.NumericValueOutOfRange(_out_of_range(m.group(2)))),
    _rule(r"^Overflow in (?!negation)\w+ of (\S+)", lambda m: errcodes.NumericValueOutOfRange(_out_of_range(m.group(1)))),
    _rule(r"^Could not cast value .* to DECIMAL", _fixed(errcodes.NumericValueOutOfRange, "numeric field overflow")),
    _rule(r"^Casting value .* to type DECIMAL\S* failed", _fixed(errcodes.NumericValueOutOfRange, "numeric field overflow")),
    # a cast that does not fit its target (DuckDB calls it a conversion error, PostgreSQL 22003)
    _rule(r"^Casting value .* to type (\S+?) failed: value is out of range",
          lambda m: errcodes.NumericValueOutOfRange(_out_of_range(m.group(1)))),
    _rule(r"^Failed to cast decimal value \S+ to type (\S+)",
          lambda m: errcodes.NumericValueOutOfRange(_out_of_range(m.group(1)))),
    _rule(r"^Overflow on abs\((\S+)\)", lambda m: errcodes.NumericValueOutOfRange(f"{_integer_kind(m.group(1))} out of range")),
    _rule(r"^Overflow in negation of", _fixed(errcodes.NumericValueOutOfRange, "integer out of range")),
    _rule(r"^Value out of range|^Left-shift value", _fixed(errcodes.NumericValueOutOfRange, "value out of range: overflow")),
    _rule(r"^Cannot create a string of size", _fixed(errcodes.ProgramLimitExceeded, "requested length too large")),
    _rule(r"^Date out of range: (-?\d+)-(\d+)-(\d+)", _make_date),
    _rule(r"^Epoch seconds out of range|^Date and time not in timestamp range|^(?:timestamp|date) out of range",
          _fixed(errcodes.DatetimeFieldOverflow, "timestamp out of range")),
    _rule(r'^extract specifier "([^"]*)" not recognized', _fixed(errcodes.InvalidParameterValue, r'unit "\1" not recognized')),
    _rule(r"^Invalid UTF8 Codepoint (-?\d+)", _codepoint),
    _rule(r'^"(\w+)" units "([^"]*)" not recognized',
          _fixed(errcodes.FeatureNotSupported, r'unit "\2" not supported for type \1')),
    _rule(r"^zero raised to a negative power is undefined|^a negative number raised to a non-integer power",
          lambda m: errcodes.InvalidArgumentForPowerFunction(m.group(0) + (" yields a complex result" if "negative number" in m.group(0) else ""))),
    _rule(_RE2, _regex),
    _rule(r"^Malformed JSON", _fixed(errcodes.InvalidTextRepresentation, "invalid input syntax for type json")),
    _rule(r"^Invalid byte encountered in STRING -> BLOB", _fixed(errcodes.InvalidTextRepresentation, "invalid input syntax for type bytea")),
    _rule(r'^Could not parse string "([^"]*)" according to format specifier "([^"]*)"',
          _fixed(errcodes.InvalidDatetimeFormat, r'invalid value "\1" for "\2"')),
    _rule(r"^Unimplemented type for cast \((.+?) -> (.+?)\)",
          lambda m: errcodes.CannotCoerce(f"cannot cast type {pg_type(m.group(1))} to {pg_type(m.group(2))}")),
    _rule(r"^Cannot mix values of type (\S+) and (\S+) in (\w+)",
          lambda m: errcodes.DatatypeMismatch(f"{m.group(3).upper()} types {pg_type(m.group(1))} and {pg_type(m.group(2))} cannot be matched")),
    _rule(r"^Cannot compare values of type (\S+) and (?:type )?(\S+)",
          lambda m: errcodes.UndefinedFunction(f"operator does not exist: {pg_type(m.group(1))} = {pg_type(m.group(2))}", hint=OPERATOR_HINT)),
    _rule(r'^Macro (?:Function )?"?(\w+)(?:\(\))?"? does not support the supplied arguments',
          _fixed(errcodes.UndefinedFunction, r"function \1 does not exist", FUNCTION_HINT)),
    _rule(r"^Cannot combine types (?:of )?(\S+) and (\S+)",
          lambda m: errcodes.DatatypeMismatch(f"types {pg_type(m.group(1))} and {pg_type(m.group(2))} cannot be matched")),
    _rule(r"^GROUP BY term out of range", _fixed(errcodes.InvalidColumnReference, "GROUP BY position is not in select list")),
    _rule(r'^extract specifier "([^"]*)" not recognized', _fixed(errcodes.InvalidParameterValue, r'unit "\1" not recognized')),
    _rule(r'^Could not parse string "([^"]*)" according to format specifier',
          _fixed(errcodes.InvalidDatetimeFormat, r'invalid value "\1" for the format')),
    _rule(r"^ORDER term out of range", _fixed(errcodes.InvalidColumnReference, "ORDER BY position is not in select list")),
    _rule(r"^LIMIT/OFFSET cannot be negative", _fixed(errcodes.InvalidRowCountInLimitClause, "LIMIT must not be negative")),
    _rule(r"^More than one row returned by a subquery used as an expression",
          _fixed(errcodes.CardinalityViolation, "more than one row returned by a subquery used as an expression")),
    _rule(r"^Set operations can only apply to expressions with the same number of result columns",
          _fixed(errcodes.SyntaxError, "each UNION, INTERSECT or EXCEPT query must have the same number of columns")),
    _rule(r"^cannot take square root of a negative number", _fixed(errcodes.InvalidArgumentForPowerFunction, "cannot take square root of a negative number")),
    _rule(r"^cannot take logarithm of (zero|a negative number)", _fixed(errcodes.InvalidArgumentForLogarithm, r"cannot take logarithm of \1")),
)


def _clean(message: str, rename: Callable[[str], str]) -> str:
    """First line only (DuckDB appends "Did you mean" hints naming other objects), without the
    "X Error:" prefix and DuckDB's closing "!"."""
    return _PREFIX.sub("", rename(message).strip()).split("\n")[0].strip().removesuffix("!").strip()


def _by_wording(message: str) -> VeilError | None:
    for rule in _RULES:
        found = rule.pattern.search(message)
        if found is not None:
            return rule.build(found)
    return None


_DUCK_TYPE_WORD = re.compile(
    r"\b(" + "|".join(sorted((re.escape(name) for name in _TYPE_NAMES if name != "NULL"), key=len, reverse=True))
    + r")\b(?:\(\d+(?:,\s*\d+)?\))?"
)
# DuckDB's advice on its own settings and functions, and where in its plan a cast failed
_DUCK_TAILS = re.compile(r"\s*(?:when casting from source column \S+|\. ?Use TRY\(.*|You might want to add an explicit cast.*|"
                         r"SET \w+\s*=.*)$")


def _pg_words(message: str) -> str:
    """An unmatched DuckDB message in PostgreSQL's vocabulary: its type names as PostgreSQL's
    (``INT32`` is integer, ``DECIMAL(5,1)`` numeric), without DuckDB's advice on its settings."""
    message = _DUCK_TAILS.sub("", message)
    return _DUCK_TYPE_WORD.sub(lambda m: pg_type(m.group(1)), message)


def _by_class(error: BaseException, raw: str) -> VeilError:
    message = _pg_words(raw)
    lowered = message.lower()
    if isinstance(error, duckdb.InterruptException):
        return errcodes.QueryCanceled("canceling statement due to user request")
    if isinstance(error, duckdb.OutOfMemoryException):
        return errcodes.OutOfMemory("out of memory")
    if isinstance(error, duckdb.PermissionException):
        return errcodes.InsufficientPrivilege(message)
    if isinstance(error, duckdb.ConversionException):
        if "out of range" in lowered or "overflow" in lowered:
            return errcodes.NumericValueOutOfRange(message)
        return errcodes.InvalidTextRepresentation(message)
    if isinstance(error, duckdb.OutOfRangeException):
        return errcodes.NumericValueOutOfRange(message)
    if isinstance(error, duckdb.ParserException):
        return errcodes.SyntaxError(message)
    if isinstance(error, duckdb.NotImplementedException):
        return errcodes.FeatureNotSupported(message)
    if isinstance(error, duckdb.ConstraintException):
        return errcodes.CheckViolation(message)
    if isinstance(error, duckdb.CatalogException):
        if "function" in lowered or "macro" in lowered:
            return errcodes.UndefinedFunction(message)
        if "type" in lowered:
            return errcodes.UndefinedObject(message)
        return errcodes.UndefinedTable(message)
    if isinstance(error, duckdb.BinderException):
        if "group by" in lowered or "aggregate" in lowered:
            return errcodes.GroupingError(message)
        if "column" in lowered:
            return errcodes.UndefinedColumn(message)
        if "function" in lowered:
            return errcodes.UndefinedFunction(message)
        return errcodes.DatatypeMismatch(message)
    if isinstance(error, duckdb.InvalidInputException):
        return errcodes.InvalidParameterValue(message)
    if isinstance(error, (duckdb.IOException, duckdb.HTTPException)):
        return errcodes.IoError(message)
    if isinstance(error, duckdb.TransactionException):
        return errcodes.InvalidTransactionState(message)
    return errcodes.InternalError(message)


def translate_duckdb_error(error: BaseException, rename: Callable[[str], str] = lambda text: text) -> VeilError:
    if isinstance(error, VeilError):
        return error
    text = str(error)
    tagged = _TAGGED.search(text)
    if tagged:
        return VeilError(tagged.group(1), _clean(tagged.group(2), rename))
    message = _clean(text, rename)
    return _by_wording(message) or _by_class(error, message)
