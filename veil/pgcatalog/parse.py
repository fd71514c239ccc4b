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

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from veil.errors import SqlSyntaxError

#: Where a typed function node keeps the name it was called by (``var_samp`` and ``variance``
#: are one sqlglot node, ``mod(a, b)`` is ``a % b``; PostgreSQL names a result column after
#: the name written).
WRITTEN_NAME = "pg_name"


#: Where a ``to_char`` call keeps its template as written: sqlglot rewrites a constant one
#: into a ``strftime`` format, which loses what PostgreSQL prints (see :mod:`.tochar`).
TEMPLATE_META = "pg_template"
_TO_CHAR = Postgres.Parser.FUNCTIONS["TO_CHAR"]


def _to_char(args: list[exp.Expr], dialect: Postgres) -> exp.Expr:
    node = _TO_CHAR(args, dialect)
    if len(args) == 2 and isinstance(args[1], exp.Literal) and args[1].is_string:
        node.meta[TEMPLATE_META] = args[1].this
    return node


# sqlglot's parser classes are compiled (no subclass can override a builder): its PostgreSQL
# builder is wrapped in place, which only adds the template to the node's meta.
if getattr(_TO_CHAR, "__name__", "") != "_to_char":
    Postgres.Parser.FUNCTIONS["TO_CHAR"] = _to_char


class WrittenNames(Postgres):
    """sqlglot's PostgreSQL, keeping each known function's written name (:data:`WRITTEN_NAME`)."""

    ORIGINAL_NAME_META_KEY = WRITTEN_NAME


POSTGRES = WrittenNames()
_DIALECT = POSTGRES


def _keep_postgres_calls() -> None:
    """Make sqlglot's PostgreSQL parser read two calls as PostgreSQL does (its parser classes are
    compiled and cannot be subclassed, so their tables are amended in place; this only adds
    information other dialects' parsers never see):

    * ``date_part('hour', x)`` becomes the same ``Extract`` node as ``EXTRACT(HOUR FROM x)``, but
      PostgreSQL 14+ gives them different results (float8 and numeric) and names (``date_part``
      and ``extract``): the node keeps its written name (:data:`WRITTEN_NAME`);
    * ``decode(text, 'hex')`` and ``encode(bytea, 'hex')`` are bytea conversions in PostgreSQL,
      not the character set ones sqlglot's ``Decode``/``Encode`` stand for: they stay calls of
      those names."""
    parser_class = Postgres.parser_class
    date_part = parser_class.FUNCTION_PARSERS["DATE_PART"]

    def written_date_part(self: object) -> exp.Expr:
        node = date_part(self)
        node.meta[WRITTEN_NAME] = "date_part"
        return node

    parser_class.FUNCTION_PARSERS["DATE_PART"] = written_date_part
    parser_class.FUNCTION_PARSERS.pop("DECODE", None)
    for name in ("DECODE", "ENCODE"):
        parser_class.FUNCTIONS.pop(name, None)


_keep_postgres_calls()


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


def parse_postgres(sql: str) -> list[exp.Expr]:
    """Parse one or more PostgreSQL statements; raises 42601 on a syntax error."""
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
