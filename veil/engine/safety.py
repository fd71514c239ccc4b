"""The function check every statement passes before it runs anywhere.

Functions are allowed by reviewed per-engine lists (:mod:`veil.engine.allowlist`); anything not
on a list is refused with 42501. The statement a client sent is checked here against every
engine's list at once (:data:`~veil.engine.allowlist.FRONT`); the SQL produced for each engine is
checked against that engine's list where it is finalized (planner, federation). The DuckDB
connections additionally run with external access disabled.
"""

from __future__ import annotations

from sqlglot import exp

from veil.engine import allowlist


def check_functions(statement: exp.Expr, engine: str = allowlist.FRONT) -> None:
    """Raise 42501 if ``statement`` calls a function ``engine`` may not run."""
    allowlist.check_functions(statement, engine)
