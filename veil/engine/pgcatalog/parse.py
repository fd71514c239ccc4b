"""Parsing PostgreSQL text with sqlglot, including what sqlglot 30 rejects as written.

sqlglot parses ``x::oid`` but not ``x::oid[]`` (nor ``regclass[]``...): it takes ``[]`` for a
subscript of the object-identifier type and fails. asyncpg's type introspection query uses
``$1::oid[]``. :func:`parse_postgres` retries such statements after qualifying those type
names at the token level (``pg_catalog.oid[]``, which sqlglot parses as an array type). String
literals and comments are never touched: the edit is driven by token positions.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from veil.errors import SqlSyntaxError

_DIALECT = Postgres()


def normalize_object_identifier_arrays(sql: str) -> str:
    """``::oid[]`` → ``::pg_catalog.oid[]`` (and the same for reg* types), token-exactly."""
    tokens = _DIALECT.tokenize(sql)
    inserts = []
    for index, token in enumerate(tokens[:-2]):
        if (
            token.token_type == TokenType.OBJECT_IDENTIFIER
            and tokens[index + 1].token_type == TokenType.L_BRACKET
            and tokens[index + 2].token_type == TokenType.R_BRACKET
            and (index == 0 or tokens[index - 1].token_type != TokenType.DOT)
        ):
            inserts.append(token.start)
    for position in reversed(inserts):
        sql = sql[:position] + "pg_catalog." + sql[position:]
    return sql


def parse_postgres(sql: str) -> list[exp.Expression]:
    """Parse one or more PostgreSQL statements; raises 42601 on a syntax error."""
    try:
        return [s for s in sqlglot.parse(sql, read="postgres") if s is not None]
    except (ParseError, TokenError) as first:
        try:
            fixed = normalize_object_identifier_arrays(sql)
        except TokenError:
            fixed = sql
        if fixed != sql:
            try:
                return [s for s in sqlglot.parse(fixed, read="postgres") if s is not None]
            except (ParseError, TokenError):
                pass
        raise SqlSyntaxError(f"syntax error: {_first_line(first)}") from None


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
