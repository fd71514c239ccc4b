"""Parsing PostgreSQL text with sqlglot, including what sqlglot 30 rejects as written.

Two constructs real clients send make sqlglot fail, and :func:`parse_postgres` retries such
statements after rewriting them at the token level (so string literals and comments are never
touched):

* ``x::oid[]`` (and ``regclass[]``...): sqlglot takes ``[]`` for a subscript of the
  object-identifier type. asyncpg's type introspection sends ``$1::oid[]``. The type is
  qualified as ``pg_catalog.oid[]``, which sqlglot parses as an array type.
* ``expr AS update`` and ``t.update`` (a reserved word as a column label, legal after ``AS``
  or a dot in PostgreSQL): Metabase's privilege query. The label is double-quoted.
"""

from __future__ import annotations

import contextlib
import itertools

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from veil.errors import SqlSyntaxError

#: Where a typed function node keeps the name it was called by (``var_samp`` and ``variance``
#: are one sqlglot node, ``mod(a, b)`` is ``a % b``; PostgreSQL names a result column after
#: the name written).
WRITTEN_NAME = "pg_name"


class WrittenNames(Postgres):
    """sqlglot's PostgreSQL, keeping each known function's written name (:data:`WRITTEN_NAME`)."""

    ORIGINAL_NAME_META_KEY = WRITTEN_NAME


POSTGRES = WrittenNames()
_DIALECT = POSTGRES


_LABEL_KEYWORDS = frozenset(
    {TokenType.SELECT, TokenType.UPDATE, TokenType.INSERT, TokenType.DELETE, TokenType.TABLE,
     TokenType.FROM, TokenType.WHERE, TokenType.ORDER_BY, TokenType.GROUP_BY, TokenType.LIMIT,
     TokenType.CREATE, TokenType.DROP, TokenType.GRANT, TokenType.ALL, TokenType.USING}
)
_AFTER_LABEL = frozenset({TokenType.COMMA, TokenType.FROM, TokenType.R_PAREN})


def normalize_tokens(sql: str) -> str:
    """``::oid[]`` → ``::pg_catalog.oid[]``; ``AS update,`` → ``AS "update",``."""
    tokens = _DIALECT.tokenize(sql)
    edits: list[tuple[int, int, str]] = []
    for index, token in enumerate(tokens[:-1]):
        following = tokens[index + 1]
        after = tokens[index + 2] if index + 2 < len(tokens) else None
        if (
            token.token_type == TokenType.OBJECT_IDENTIFIER
            and following.token_type == TokenType.L_BRACKET
            and after is not None
            and after.token_type == TokenType.R_BRACKET
            and (index == 0 or tokens[index - 1].token_type != TokenType.DOT)
        ):
            edits.append((token.start, token.start, "pg_catalog."))
        label = token.token_type == TokenType.ALIAS and (
            after is None or after.token_type in _AFTER_LABEL
        )
        if (label or token.token_type == TokenType.DOT) and following.token_type in _LABEL_KEYWORDS:
            edits.append((following.start, following.end + 1, f'"{following.text.lower()}"'))
    for start, end, text in reversed(edits):
        sql = sql[:start] + text + sql[end:]
    return sql


def whole_intervals(sql: str, tokens: list[Token] | None = None) -> str:
    """``INTERVAL '-3 days 04:00:00'`` → ``CAST('-3 days 04:00:00' AS INTERVAL)``: sqlglot keeps
    only the one "number unit" pair of such a literal (``INTERVAL '-3' DAYS``) and drops the rest
    of its text. The cast reads the whole text (and names its column "interval" too)."""
    if "interval" not in sql.lower():
        return sql
    tokens = _DIALECT.tokenize(sql) if tokens is None else tokens
    edits: list[tuple[int, int, str]] = []
    for token, following in itertools.pairwise(tokens):
        if token.token_type == TokenType.INTERVAL and following.token_type == TokenType.STRING:
            pairs = exp.INTERVAL_STRING_RE.findall(following.text)
            if len(pairs) == 1 and exp.INTERVAL_STRING_RE.fullmatch(following.text) is None:
                edits.append((token.start, following.end + 1, f"CAST({sql[following.start:following.end + 1]} AS INTERVAL)"))
    for start, end, text in reversed(edits):
        sql = sql[:start] + text + sql[end:]
    return sql


def parse_postgres(sql: str) -> list[exp.Expr]:
    """Parse one or more PostgreSQL statements; raises 42601 on a syntax error."""
    with contextlib.suppress(TokenError):
        sql = whole_intervals(sql)
    try:
        return [s for s in sqlglot.parse(sql, read=POSTGRES) if s is not None]
    except (ParseError, TokenError) as first:
        try:
            fixed = normalize_tokens(sql)
        except TokenError:
            fixed = sql
        if fixed != sql:
            try:
                return [s for s in sqlglot.parse(fixed, read=POSTGRES) if s is not None]
            except (ParseError, TokenError):
                pass
        raise SqlSyntaxError(f"syntax error: {_first_line(first)}") from None


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
