"""Bounds on one statement's text, checked before the work they bound.

* ``server.max_statement_bytes``: longer SQL is refused with 54000 before it is tokenized or
  parsed (a 5 MB statement used to hold every session for seconds and grow the process by GBs).
* Nesting: parsing, policy rewriting and SQL generation recurse once per nested expression, so
  deeper parentheses than :data:`MAX_NESTING` are refused with 54001 "stack depth limit
  exceeded", PostgreSQL's answer to the same; a statement deep in another way (a chain of
  thousands of ``AND``) that still exhausts Python's stack gets the same error
  (:func:`stack_depth_exceeded`), never a RecursionError.
* Statements longer than :data:`OFFLOAD_BYTES` are split, parsed and planned on a worker thread,
  so a big statement never stalls the event loop other sessions are served from.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot.tokens import Token, TokenType

from veil import errcodes
from veil.errors import VeilError

MAX_NESTING = 100
OFFLOAD_BYTES = 4096


def check_statement_size(sql: str, limit: int) -> None:
    """54000 for SQL text longer than ``limit`` bytes (``server.max_statement_bytes``)."""
    if len(sql) * 4 <= limit:  # no character is longer than 4 bytes in UTF-8: no need to encode
        return
    size = len(sql.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise errcodes.ProgramLimitExceeded(
            f"statement is too long: {size} bytes, the limit is {limit}",
            hint="split the statement, or raise server.max_statement_bytes",
        )


def stack_depth_exceeded() -> VeilError:
    return errcodes.StatementTooComplex(
        "stack depth limit exceeded",
        hint=f"the statement nests expressions too deeply (Veil accepts {MAX_NESTING} levels of parentheses)",
    )


def check_nesting(sql: str, tokens: Sequence[Token]) -> None:
    """54001 when parentheses nest deeper than :data:`MAX_NESTING`."""
    if sql.count("(") <= MAX_NESTING:  # cannot nest that deep: skip the token scan
        return
    depth = 0
    for token in tokens:
        if token.token_type == TokenType.L_PAREN:
            depth += 1
            if depth > MAX_NESTING:
                raise stack_depth_exceeded()
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
