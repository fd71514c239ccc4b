"""SQL text read exactly as PostgreSQL reads it, with PostgreSQL's own parser (libpg_query).

sqlglot rewrites queries, but its tokenizer does not always agree with PostgreSQL's: since
sqlglot 29, ``$1,$2`` is read as the start of a dollar-quoted string. Everything that must be
PostgreSQL's reading comes from here instead: statement boundaries, what kind of statement it
is, the syntax error and its position, and where the ``$n`` parameters are.
:func:`for_sqlglot` then gives sqlglot a text whose parameters it tokenizes reliably (a space
after each ``$n`` that PostgreSQL's scanner found; strings, comments and dollar quotes are never
touched). Every function is pure and cached by statement text: it is on the hot path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any, TypeVar

from pglast import parser as pg_parser
from pglast.ast import Node, RawStmt

from veil.errors import SqlSyntaxError, VeilError
from veil.sql.limits import OFFLOAD_BYTES, stack_depth_exceeded

_Result = TypeVar("_Result")


def text_cache(maxsize: int) -> Callable[[Callable[[str], _Result]], Callable[[str], _Result]]:
    """``lru_cache`` by statement text, for texts up to ``OFFLOAD_BYTES`` only: a cache of a
    thousand 1 MB statements (and their trees) would hold gigabytes."""

    def decorate(function: Callable[[str], _Result]) -> Callable[[str], _Result]:
        cached = lru_cache(maxsize=maxsize)(function)

        @wraps(function)
        def call(sql: str) -> _Result:
            return cached(sql) if len(sql) <= OFFLOAD_BYTES else function(sql)

        return call

    return decorate


_COMMENTS = frozenset({"SQL_COMMENT", "C_COMMENT"})


@dataclass(frozen=True, slots=True)
class Token:
    """One scanner token: ``start``/``end`` are character offsets (``end`` exclusive)."""

    start: int
    end: int
    name: str
    text: str


def _syntax_error(error: pg_parser.ParseError, sql: str) -> VeilError:
    message = str(error.args[0]) if error.args else "syntax error"
    if "stack depth limit exceeded" in message:
        return stack_depth_exceeded()
    location = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], int) else None
    if location is None and "at end of input" in message:
        location = len(sql)
    return SqlSyntaxError(message, position=None if location is None else location + 1)


@text_cache(4096)
def scan(sql: str) -> tuple[Token, ...]:
    """PostgreSQL's tokens of ``sql``, comments left out; raises 42601 like the server would."""
    try:
        raw = pg_parser.scan(sql)
    except pg_parser.ParseError as error:
        raise _syntax_error(error, sql) from None
    return tuple(
        Token(t.start, t.end + 1, t.name, sql[t.start : t.end + 1]) for t in raw if t.name not in _COMMENTS
    )


@text_cache(1024)
def split(sql: str) -> tuple[str, ...]:
    """Statements of a simple-query string, split on the semicolons PostgreSQL's scanner sees;
    statements holding only whitespace or comments are dropped."""
    if ";" not in sql and "--" not in sql and "/*" not in sql:
        return (sql.strip(),) if sql.strip() else ()  # one statement: no need to scan
    statements: list[str] = []
    start = 0
    has_tokens = False
    for token in scan(sql):
        if token.name == "ASCII_59":
            if has_tokens:
                statements.append(sql[start : token.start].strip())
            start = token.end
            has_tokens = False
        else:
            has_tokens = True
    if has_tokens:
        statements.append(sql[start:].strip())
    return tuple(statements)


@text_cache(4096)
def parse(sql: str) -> tuple[RawStmt, ...]:
    """PostgreSQL's parse trees of ``sql``; raises 42601 with PostgreSQL's message and position."""
    try:
        return tuple(pg_parser.parse_sql(sql))
    except pg_parser.ParseError as error:
        raise _syntax_error(error, sql) from None


@text_cache(4096)
def _tree(sql: str) -> tuple[str, dict[str, Any]] | None:
    try:
        statements = json.loads(pg_parser.parse_sql_json(sql))["stmts"]
    except pg_parser.ParseError as error:
        raise _syntax_error(error, sql) from None
    if not statements:
        return None
    if len(statements) > 1:
        raise SqlSyntaxError("cannot insert multiple commands into a prepared statement")
    ((name, node),) = statements[0]["stmt"].items()
    return name, node


def statement_kind(sql: str) -> tuple[str, dict[str, Any]] | None:
    """The node name PostgreSQL's parser gives the one statement in ``sql`` (``SelectStmt``,
    ``FetchStmt``...) and the node as JSON; None when ``sql`` holds only comments. This is the
    cheap path (libpg_query's JSON output): :func:`parse_one` builds Python nodes, ten times
    slower, and is meant for the rare utility statements that need their details."""
    return _tree(sql)


def parse_one(sql: str) -> Node | None:
    """The one statement in ``sql`` (None when it holds only comments)."""
    trees = parse(sql)
    if not trees:
        return None
    if len(trees) > 1:
        raise SqlSyntaxError("cannot insert multiple commands into a prepared statement")
    return trees[0].stmt


def parameter_numbers(sql: str) -> tuple[int, ...]:
    """The number of every ``$n`` PostgreSQL's scanner finds, in order of appearance."""
    return tuple(int(t.text[1:]) for t in scan(sql) if t.name == "PARAM")


# PostgreSQL's interval field keywords (``INTERVAL '1' DAY``, ``... DAY TO SECOND``)
_INTERVAL_FIELDS = frozenset({"YEAR_P", "MONTH_P", "DAY_P", "HOUR_P", "MINUTE_P", "SECOND_P"})
_ONE_QUANTITY = re.compile(r"'\s*[-+]?[0-9.]+\s*[A-Za-z]+\s*'")


@text_cache(4096)
def for_sqlglot(sql: str) -> str:
    """``sql`` as sqlglot must be given it to read it as PostgreSQL does:

    * a space after each ``$n`` not already followed by one, so that sqlglot's tokenizer cannot
      take ``$1,$2`` or ``$1||$2`` for a dollar-quoted string;
    * ``INTERVAL '-3 days 04:00:00'`` (more than one quantity, no field keyword after it) as
      ``CAST('-3 days 04:00:00' AS INTERVAL)``: sqlglot keeps only the first quantity of such a
      literal (``INTERVAL '-3 DAYS'``), on every source."""
    lowered = sql.lower()
    if "$" not in sql and "interval" not in lowered:
        return sql
    tokens = scan(sql)
    edits: list[tuple[int, int, str]] = []
    for index, token in enumerate(tokens):
        if token.name == "PARAM" and token.end < len(sql) and not sql[token.end].isspace():
            edits.append((token.end, token.end, " "))
        elif token.name == "INTERVAL" and index + 1 < len(tokens) and tokens[index + 1].name == "SCONST":
            literal = tokens[index + 1]
            following = tokens[index + 2].name if index + 2 < len(tokens) else ""
            if following not in _INTERVAL_FIELDS and not _ONE_QUANTITY.fullmatch(literal.text):
                edits.append((token.start, literal.end, f"CAST({literal.text} AS INTERVAL)"))
    if not edits:
        return sql
    parts: list[str] = []
    previous = 0
    for start, end, text in edits:
        parts.append(sql[previous:start])
        parts.append(text)
        previous = end
    parts.append(sql[previous:])
    return "".join(parts)


def tokens_after(sql: str, names: frozenset[str], start: int = 0) -> int | None:
    """Character offset just past the first top-level token whose scanner name is in ``names``
    (at parenthesis depth 0, at or after ``start``), or None."""
    depth = 0
    for token in scan(sql):
        if token.start < start:
            continue
        if token.name == "ASCII_40":
            depth += 1
        elif token.name == "ASCII_41":
            depth -= 1
        elif depth == 0 and token.name in names:
            return token.end
    return None


def parenthesized(sql: str, start: int = 0) -> str | None:
    """The text inside the first top-level parentheses at or after ``start`` (None if none)."""
    depth = 0
    opened = 0
    for token in scan(sql):
        if token.start < start:
            continue
        if token.name == "ASCII_40":
            if depth == 0:
                opened = token.end
            depth += 1
        elif token.name == "ASCII_41":
            depth -= 1
            if depth == 0:
                return sql[opened : token.start]
    return None
