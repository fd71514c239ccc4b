"""``to_char(numeric | int | float, template)``: refused (0A000) until Veil prints PostgreSQL's
number templates; sqlglot's ``strftime`` reading of them would fail or print another string."""

from __future__ import annotations

from sqlglot import exp

from veil.errcodes import FeatureNotSupported


def numeric_to_char(argument: exp.Expr, template: str, kind: str) -> exp.Expr:
    raise FeatureNotSupported(f'to_char of a number with template "{template}" is not supported')
