"""Split a query string into statements and classify each one.

Splitting and utility-statement parsing work on sqlglot's PostgreSQL tokens, so semicolons inside
strings, dollar quotes and comments are handled like PostgreSQL does. Queries (SELECT, WITH,
VALUES, TABLE) are parsed into sqlglot ASTs; session and transaction statements are parsed here;
anything else is refused: Veil only serves queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from veil.engine.limits import OFFLOAD_BYTES, check_nesting
from veil.engine.pgcatalog.parse import parse_postgres
from veil.errors import FeatureNotSupported, ReadOnlyViolation, SqlSyntaxError

_DIALECT = Postgres()


class Kind(Enum):
    QUERY = "query"
    EXPLAIN = "explain"
    SET = "set"
    RESET = "reset"
    SHOW = "show"
    BEGIN = "begin"
    COMMIT = "commit"
    ROLLBACK = "rollback"
    SAVEPOINT = "savepoint"
    RELEASE = "release"
    ROLLBACK_TO = "rollback_to"
    NOOP = "noop"  # DISCARD, DEALLOCATE, CLOSE, UNLISTEN, LISTEN: answered locally
    EMPTY = "empty"


@dataclass(frozen=True)
class Statement:
    """One classified statement.

    ``tag`` is the CommandComplete verb. For SET/RESET/SHOW, ``name`` is the setting (lower-case)
    and ``value`` the new value (``None`` = reset to default). ``ast`` is set for queries.
    """

    kind: Kind
    sql: str
    tag: str
    ast: exp.Expression | None = None
    name: str | None = None
    value: str | None = None
    is_local: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def _tokens(sql: str) -> list[Token]:
    try:
        return _DIALECT.tokenize(sql)
    except TokenError as exc:
        raise SqlSyntaxError(f"syntax error: {exc}") from None


def split(sql: str) -> list[str]:
    """Split on top-level semicolons; statements holding only whitespace or comments are dropped."""
    return list(_split(sql) if len(sql) <= OFFLOAD_BYTES else _split.__wrapped__(sql))


@lru_cache(maxsize=1024)
def _split(sql: str) -> tuple[str, ...]:
    """Cached by text like :func:`classify`: a repeated simple query is not tokenized again."""
    statements: list[str] = []
    start = 0
    has_tokens = False
    for token in _tokens(sql):
        if token.token_type == TokenType.SEMICOLON:
            if has_tokens:
                statements.append(sql[start : token.start].strip())
            start = token.end + 1
            has_tokens = False
        else:
            has_tokens = True
    if has_tokens:
        statements.append(sql[start:].strip())
    return tuple(statements)


def _words(tokens: list[Token]) -> list[str]:
    return [t.text.upper() for t in tokens]


def _value_text(tokens: list[Token]) -> str:
    """A SET value: identifiers, numbers and strings joined the way SHOW prints them."""
    parts: list[str] = []
    current = ""
    for token in tokens:
        if token.token_type == TokenType.COMMA:
            parts.append(current)
            current = ""
            continue
        text = token.text
        if token.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING):
            current += text
        elif token.token_type == TokenType.DASH:
            current += "-"
        else:
            current += text if not current or current.endswith("-") else " " + text
    parts.append(current)
    return ", ".join(p for p in parts)


_QUERY_STARTS = {"SELECT", "WITH", "VALUES", "TABLE", "("}
_WRITES = {
    "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE", "COPY",
    "GRANT", "REVOKE", "ATTACH", "DETACH", "INSTALL", "LOAD", "PRAGMA", "VACUUM", "ANALYZE",
    "CALL", "DO", "EXPORT", "IMPORT", "CHECKPOINT", "CLUSTER", "REINDEX", "COMMENT", "LOCK",
    "REFRESH", "SECURITY", "UPSERT", "REPLACE", "USE", "NOTIFY", "PREPARE", "EXECUTE",
    "DECLARE", "FETCH", "MOVE", "REASSIGN", "IMPORT",
}


def _position(sql: str, error: dict[str, object]) -> int | None:
    """1-based character position of a sqlglot parse error, as PostgreSQL reports it."""
    line, col = error.get("line"), error.get("col")
    if not isinstance(line, int) or not isinstance(col, int):
        return None
    lines = sql.splitlines(keepends=True)
    highlight = str(error.get("highlight") or "")
    return sum(len(text) for text in lines[: line - 1]) + max(col - len(highlight), 0) + 1


def _parse_query(sql: str, tokens: list[Token] | None = None) -> exp.Expression:
    try:
        if tokens is None:
            expressions = sqlglot.parse(sql, read="postgres")
        else:  # tokenized already (a big statement takes seconds to tokenize, holding the GIL)
            expressions = _DIALECT.parser().parse(tokens, sql)
    except ParseError as exc:
        try:
            expressions = parse_postgres(sql)  # accepts ``$1::oid[]`` and friends
        except SqlSyntaxError:
            first = (exc.errors or [{}])[0]
            near = first.get("highlight")
            if near:
                raise SqlSyntaxError(
                    f'syntax error at or near "{near}"', position=_position(sql, first)
                ) from None
            raise SqlSyntaxError(f"syntax error: {first.get('description') or exc}") from None
    except TokenError as exc:
        raise SqlSyntaxError(f"syntax error: {exc}") from None
    parsed = [e for e in expressions if e is not None]
    if len(parsed) != 1:
        raise SqlSyntaxError("syntax error: expected exactly one statement")
    ast = parsed[0]
    if isinstance(ast, exp.Command):
        raise SqlSyntaxError(f"syntax error at or near \"{ast.this}\"")
    if not isinstance(ast, exp.Query | exp.Values):
        raise ReadOnlyViolation(f"cannot execute {ast.key.upper()} in a read-only transaction")
    for parameter in ast.find_all(exp.Parameter):
        if not (parameter.name.isascii() and parameter.name.isdigit()):  # only $1..$n (sqlglot also reads "$a")
            raise SqlSyntaxError(f'syntax error at or near "${parameter.name}"')
    return ast


def _set_statement(sql: str, words: list[str], tokens: list[Token]) -> Statement:
    index = 1
    is_local = False
    if len(words) > index and words[index] in ("SESSION", "LOCAL"):
        if words[index] == "LOCAL":
            is_local = True
        if len(words) > index + 1 and words[index + 1] == "CHARACTERISTICS":
            return Statement(Kind.NOOP, sql, "SET")
        if len(words) > index + 1 and words[index + 1] == "AUTHORIZATION":
            raise FeatureNotSupported("SET SESSION AUTHORIZATION is not supported by Veil")
        index += 1
    if len(words) <= index:
        raise SqlSyntaxError("syntax error at end of input")
    if words[index] == "TRANSACTION":
        return Statement(Kind.NOOP, sql, "SET")
    if words[index] == "ROLE":
        raise FeatureNotSupported("SET ROLE is not supported by Veil")
    if words[index] == "TIME" and len(words) > index + 1 and words[index + 1] == "ZONE":
        value_tokens = tokens[index + 2 :]
        value = _value_text(value_tokens)
        return Statement(
            Kind.SET, sql, "SET", name="timezone",
            value=None if value.upper() in ("LOCAL", "DEFAULT") else value, is_local=is_local,
        )
    name_tokens: list[str] = []
    position = index
    while position < len(tokens) and words[position] not in ("=", "TO"):
        name_tokens.append(tokens[position].text)
        position += 1
    if position >= len(tokens):
        raise SqlSyntaxError("syntax error at end of input")
    name = "".join(name_tokens).lower()
    value = _value_text(tokens[position + 1 :])
    if not value:
        raise SqlSyntaxError("syntax error at end of input")
    if value.upper() == "DEFAULT":
        return Statement(Kind.SET, sql, "SET", name=name, value=None, is_local=is_local)
    return Statement(Kind.SET, sql, "SET", name=name, value=value, is_local=is_local)


def _show_statement(sql: str, first: Token) -> Statement:
    # sqlglot tokenizes SHOW as a command: the rest of the text is one token, so read it raw.
    rest = " ".join(sql[first.end + 1 :].split()).lower().rstrip(";").strip()
    if not rest:
        raise SqlSyntaxError("syntax error at end of input")
    if rest == "transaction isolation level":
        return Statement(Kind.SHOW, sql, "SHOW", name="transaction_isolation")
    if rest == "time zone":
        return Statement(Kind.SHOW, sql, "SHOW", name="timezone")
    return Statement(Kind.SHOW, sql, "SHOW", name=rest.strip('"'))


def _explain_statement(sql: str, first: Token) -> Statement:
    body = sql[first.end + 1 :]
    tokens = _tokens(body)
    index = 0
    words = _words(tokens)
    while index < len(words) and words[index] in ("ANALYZE", "VERBOSE"):
        index += 1
    if index < len(tokens) and tokens[index].token_type == TokenType.L_PAREN:
        depth = 0
        while index < len(tokens):
            if tokens[index].token_type == TokenType.L_PAREN:
                depth += 1
            elif tokens[index].token_type == TokenType.R_PAREN:
                depth -= 1
                if depth == 0:
                    index += 1
                    break
            index += 1
    if index >= len(tokens):
        raise SqlSyntaxError("syntax error at end of input")
    return Statement(Kind.EXPLAIN, sql, "EXPLAIN", ast=_parse_query(body[tokens[index].start :]))


def _classify_utility(sql: str, tokens: list[Token]) -> Statement | None:
    words = _words(tokens)
    first = words[0]
    if first == "SET":
        return _set_statement(sql, words, tokens)
    if first == "RESET":
        if len(words) < 2:
            raise SqlSyntaxError("syntax error at end of input")
        name = "".join(t.text for t in tokens[1:]).lower()
        return Statement(Kind.RESET, sql, "RESET", name=name)
    if first == "SHOW":
        return _show_statement(sql, tokens[0])
    if first in ("BEGIN", "START"):
        return Statement(Kind.BEGIN, sql, "BEGIN" if first == "BEGIN" else "START TRANSACTION")
    if first in ("COMMIT", "END"):
        return Statement(Kind.COMMIT, sql, "COMMIT")
    if first in ("ROLLBACK", "ABORT"):
        if "TO" in words:
            return Statement(Kind.ROLLBACK_TO, sql, "ROLLBACK", name=words[-1].lower())
        return Statement(Kind.ROLLBACK, sql, "ROLLBACK")
    if first == "SAVEPOINT":
        return Statement(Kind.SAVEPOINT, sql, "SAVEPOINT", name=tokens[-1].text)
    if first == "RELEASE":
        return Statement(Kind.RELEASE, sql, "RELEASE", name=tokens[-1].text)
    if first == "DISCARD":
        return Statement(Kind.NOOP, sql, "DISCARD " + (words[1] if len(words) > 1 else "ALL"))
    if first == "DEALLOCATE":
        return Statement(Kind.NOOP, sql, "DEALLOCATE" + (" ALL" if "ALL" in words else ""))
    if first == "CLOSE":
        return Statement(Kind.NOOP, sql, "CLOSE CURSOR" + (" ALL" if "ALL" in words else ""))
    if first in ("UNLISTEN", "LISTEN"):
        return Statement(Kind.NOOP, sql, first)
    if first == "EXPLAIN":
        return _explain_statement(sql, tokens[0])
    return None


def classify(sql: str) -> Statement:
    """Classify one statement (cached by its text: repeated statements cost nothing; statements
    longer than ``OFFLOAD_BYTES`` are not kept, their trees would hold far more memory)."""
    return _classify(sql) if len(sql) > OFFLOAD_BYTES else _cached_classify(sql)


@lru_cache(maxsize=4096)
def _cached_classify(sql: str) -> Statement:
    return _classify(sql)


def _classify(sql: str) -> Statement:
    tokens = _tokens(sql)
    if not tokens:
        return Statement(Kind.EMPTY, sql, "")
    first = tokens[0].text.upper()
    if first in _QUERY_STARTS:
        check_nesting(sql, tokens)
        return Statement(Kind.QUERY, sql, "SELECT", ast=_parse_query(sql, tokens))
    utility = _classify_utility(sql, tokens)
    if utility is not None:
        return utility
    if first in _WRITES:
        raise ReadOnlyViolation(f"cannot execute {first} in a read-only transaction")
    raise SqlSyntaxError(f'syntax error at or near "{tokens[0].text}"', position=tokens[0].start + 1)
