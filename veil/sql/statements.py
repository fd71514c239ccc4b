"""Split a query string into statements and classify each one.

Splitting and classification are PostgreSQL's own (:mod:`veil.sql.pgsql`, libpg_query): a
statement is what PostgreSQL's parser says it is, and a syntax error carries PostgreSQL's message
and position. Queries (SELECT, WITH, VALUES, TABLE) are then parsed into sqlglot ASTs for
rewriting, from a text whose ``$n`` sqlglot tokenizes reliably; session and transaction settings
are read from sqlglot tokens; cursors, COPY TO and PREPARE/EXECUTE carry their inner query;
everything that writes is refused with 25006: Veil only serves reads.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

import sqlglot
from pglast import ast as pg_ast
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from veil.errors import (
    FUNCTION_HINT,
    FeatureNotSupported,
    ReadOnlyViolation,
    SqlSyntaxError,
    UndefinedFunction,
)
from veil.pgcatalog.parse import POSTGRES, parse_postgres, whole_intervals
from veil.sql import pgsql
from veil.sql.ctes import check_recursive
from veil.sql.limits import MAX_NESTING, OFFLOAD_BYTES, check_nesting
from veil.sql.utility_specs import (
    CopySpec,
    CursorSpec,
    ExecuteSpec,
    FetchSpec,
    PrepareSpec,
    copy_spec,
    cursor_spec,
    execute_spec,
    fetch_spec,
    prepare_spec,
)

_DIALECT = POSTGRES


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
    NOOP = "noop"  # DISCARD, UNLISTEN, LISTEN: answered locally
    EMPTY = "empty"
    DECLARE = "declare"
    FETCH = "fetch"  # FETCH and MOVE
    CLOSE = "close"
    PREPARE = "prepare"
    EXECUTE = "execute"
    DEALLOCATE = "deallocate"
    COPY = "copy"  # COPY ... TO STDOUT


@dataclass(frozen=True)
class Statement:
    """One classified statement.

    ``tag`` is the CommandComplete verb. For SET/RESET/SHOW, ``name`` is the setting (lower-case)
    and ``value`` the new value (``None`` = reset to default). ``ast`` is set for queries.
    """

    kind: Kind
    sql: str
    tag: str
    ast: exp.Expr | None = None
    name: str | None = None
    value: str | None = None
    is_local: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    query: Statement | None = None  # the query of DECLARE, PREPARE and COPY
    spec: CursorSpec | FetchSpec | CopySpec | PrepareSpec | ExecuteSpec | None = None


def _tokens(sql: str) -> list[Token]:
    try:
        return _DIALECT.tokenize(sql)
    except TokenError as exc:
        raise SqlSyntaxError(f"syntax error: {exc}") from None


def split(sql: str) -> list[str]:
    """Split on top-level semicolons; statements holding only whitespace or comments are dropped
    (cached by text in :mod:`veil.sql.pgsql`, like :func:`classify`)."""
    return list(pgsql.split(sql))


def _check_nesting(sql: str) -> None:
    """54001 before sqlglot recurses into parentheses nested deeper than PostgreSQL would take."""
    if sql.count("(") > MAX_NESTING:
        check_nesting(sql, _tokens(pgsql.for_sqlglot(sql)))


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


#: Statements whose settings or effects are read from sqlglot tokens by :func:`_classify_utility`.
_SESSION_NODES = (
    pg_ast.VariableSetStmt, pg_ast.VariableShowStmt, pg_ast.TransactionStmt, pg_ast.DiscardStmt,
    pg_ast.ListenStmt, pg_ast.UnlistenStmt, pg_ast.ExplainStmt,
)
_DML_VERBS = {
    pg_ast.InsertStmt: "INSERT", pg_ast.UpdateStmt: "UPDATE", pg_ast.DeleteStmt: "DELETE",
    pg_ast.MergeStmt: "MERGE",
}
_DML_NAMES = {node.__name__: verb for node, verb in _DML_VERBS.items()}


def _position(sql: str, error: dict[str, object]) -> int | None:
    """1-based character position of a sqlglot parse error, as PostgreSQL reports it."""
    line, col = error.get("line"), error.get("col")
    if not isinstance(line, int) or not isinstance(col, int):
        return None
    lines = sql.splitlines(keepends=True)
    highlight = str(error.get("highlight") or "")
    return sum(len(text) for text in lines[: line - 1]) + max(col - len(highlight), 0) + 1


_ARITY = re.compile(r"^(?:Required keyword: '\w+' missing for|The number of provided arguments)")


def _wrong_arguments(sql: str, error: dict[str, Any]) -> UndefinedFunction | None:
    """PostgreSQL's 42883 for a call PostgreSQL parses but sqlglot refuses for its argument count
    (``to_char(x)``, ``sum(a, b)``): sqlglot's complaint is not a syntax error."""
    if not _ARITY.match(str(error.get("description") or "")):
        return None
    try:
        tokens = pgsql.scan(sql)
        pgsql.parse(sql)
    except SqlSyntaxError:
        return None
    position = _position(sql, error)
    closing = next((i for i, t in enumerate(tokens) if position is not None and t.start == position - 1 and t.name == "ASCII_41"), None)
    if closing is None:
        return None
    depth = 0
    for index in range(closing, 0, -1):
        depth += {"ASCII_41": 1, "ASCII_40": -1}.get(tokens[index].name, 0)
        if depth == 0:
            name = tokens[index - 1].text.strip('"').lower()
            return UndefinedFunction(f"function {name} does not exist", hint=FUNCTION_HINT)
    return None


def _parse_query(sql: str, tokens: list[Token] | None = None) -> exp.Query | exp.Values:
    expressions: Sequence[exp.Expr | None]
    with contextlib.suppress(TokenError):
        whole = whole_intervals(sql, tokens)
        if whole != sql:
            sql, tokens = whole, None
    try:
        # tokens given: tokenized already (a big statement takes seconds to tokenize, holding the GIL)
        expressions = sqlglot.parse(sql, read=_DIALECT) if tokens is None else _DIALECT.parser().parse(tokens, sql)
    except ParseError as exc:
        try:
            expressions = parse_postgres(sql)  # accepts ``$1::oid[]`` and friends
        except SqlSyntaxError:
            first = (exc.errors or [{}])[0]
            arity = _wrong_arguments(sql, first)
            if arity is not None:
                raise arity from None
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
    check_recursive(ast)
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


_QUERY_STARTS = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})


def _explain_options_at(tokens: list[Token], index: int) -> bool:
    """``(`` at ``index`` opens EXPLAIN's option list, not a parenthesized query such as
    ``EXPLAIN (SELECT 1) EXCEPT SELECT 2``."""
    if index >= len(tokens) or tokens[index].token_type != TokenType.L_PAREN:
        return False
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    return following is None or (
        following.token_type != TokenType.L_PAREN and following.text.upper() not in _QUERY_STARTS
    )


def _explain_statement(sql: str, first: Token) -> Statement:
    body = sql[first.end + 1 :]
    tokens = _tokens(body)
    index = 0
    words = _words(tokens)
    while index < len(words) and words[index] in ("ANALYZE", "VERBOSE"):
        index += 1
    if _explain_options_at(tokens, index):
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
    if first in ("UNLISTEN", "LISTEN"):
        return Statement(Kind.NOOP, sql, first)
    if first == "EXPLAIN":
        return _explain_statement(sql, tokens[0])
    return None


def _read_only(verb: str) -> ReadOnlyViolation:
    return ReadOnlyViolation(f"cannot execute {verb} in a read-only transaction")


def _check_select(node: dict[str, Any]) -> None:
    """SELECT INTO and data-modifying WITH write: refused as PostgreSQL refuses them read-only.
    ``node`` is the SelectStmt as libpg_query's JSON."""
    if "intoClause" in node:
        raise _read_only("SELECT INTO")
    for cte in node.get("withClause", {}).get("ctes", ()):
        for name in cte.get("CommonTableExpr", {}).get("ctequery", {}):
            if name in _DML_NAMES:
                raise _read_only(_DML_NAMES[name])


def _inner_query(sql: str, start: int | None) -> Statement:
    if start is None:
        raise SqlSyntaxError("syntax error: query expected")
    inner = sql[start:].strip()
    tree = pgsql.statement_kind(inner)
    if tree is None or tree[0] != "SelectStmt":
        verb = _DML_NAMES.get(tree[0]) if tree else None
        raise _read_only(verb or (inner.split(None, 1)[0].upper() if inner else "statement"))
    _check_select(tree[1])
    return Statement(Kind.QUERY, inner, "SELECT", ast=_parse_query(pgsql.for_sqlglot(inner)))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy_statement(sql: str, node: pg_ast.CopyStmt) -> Statement:
    if node.is_from:
        raise _read_only("COPY FROM")
    if node.filename is not None or node.is_program:
        raise FeatureNotSupported("COPY to a file or program is not supported by Veil; use COPY ... TO STDOUT")
    if node.query is not None:
        inner = pgsql.parenthesized(sql)
        query = _inner_query(inner or "", 0)
    else:
        relation = node.relation
        if relation is None:
            raise SqlSyntaxError("syntax error: COPY needs a table or a query")
        name = ".".join(_quote(p) for p in (relation.schemaname, relation.relname) if p)
        columns = ", ".join(_quote(c.sval) for c in node.attlist or ()) or "*"
        query = _inner_query(f"SELECT {columns} FROM {name}", 0)
    return Statement(Kind.COPY, sql, "COPY", query=query, spec=copy_spec(node))


def _classify_tree(sql: str, node: object) -> Statement | None:
    """Cursors, COPY TO and SQL-level prepared statements; None for anything else."""
    if isinstance(node, pg_ast.DeclareCursorStmt):
        query = _inner_query(sql, pgsql.tokens_after(sql, frozenset({"FOR"})))
        return Statement(Kind.DECLARE, sql, "DECLARE CURSOR", query=query, spec=cursor_spec(node))
    if isinstance(node, pg_ast.FetchStmt):
        spec = fetch_spec(node)
        return Statement(Kind.FETCH, sql, "MOVE" if spec.move else "FETCH", spec=spec)
    if isinstance(node, pg_ast.ClosePortalStmt):
        spec = FetchSpec(node.portalname, "forward", 0, False)
        return Statement(Kind.CLOSE, sql, "CLOSE CURSOR" + ("" if node.portalname else " ALL"), spec=spec)
    if isinstance(node, pg_ast.PrepareStmt):
        query = _inner_query(sql, pgsql.tokens_after(sql, frozenset({"AS"})))
        return Statement(Kind.PREPARE, sql, "PREPARE", query=query, spec=prepare_spec(node))
    if isinstance(node, pg_ast.ExecuteStmt):
        return Statement(Kind.EXECUTE, sql, "SELECT", spec=execute_spec(sql, node))
    if isinstance(node, pg_ast.DeallocateStmt):
        tag = "DEALLOCATE" + (" ALL" if node.name is None else "")
        return Statement(Kind.DEALLOCATE, sql, tag, name=node.name)
    if isinstance(node, pg_ast.CopyStmt):
        return _copy_statement(sql, node)
    return None


def classify(sql: str) -> Statement:
    """Classify one statement (cached by its text: repeated statements cost nothing; statements
    longer than ``OFFLOAD_BYTES`` are not kept, their trees would hold far more memory)."""
    return _classify(sql) if len(sql) > OFFLOAD_BYTES else _cached_classify(sql)


@lru_cache(maxsize=4096)
def _cached_classify(sql: str) -> Statement:
    return _classify(sql)


def _classify(sql: str) -> Statement:
    _check_nesting(sql)
    tree = pgsql.statement_kind(sql)
    if tree is None:
        return Statement(Kind.EMPTY, sql, "")
    if tree[0] == "SelectStmt":
        _check_select(tree[1])
        return Statement(Kind.QUERY, sql, "SELECT", ast=_parse_query(pgsql.for_sqlglot(sql)))
    node = pgsql.parse_one(sql)
    if isinstance(node, _SESSION_NODES):
        normalized = pgsql.for_sqlglot(sql)
        utility = _classify_utility(normalized, _tokens(normalized))
        if utility is not None:
            return utility
    statement = _classify_tree(sql, node)
    if statement is not None:
        return statement
    verb = _DML_VERBS.get(type(node)) or pgsql.scan(sql)[0].text.upper()
    raise _read_only(verb)
