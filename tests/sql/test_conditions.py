"""Conjunctions of predicates sqlglot's ``and_`` refuses (a scalar subquery)."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from veil.sql.conditions import conjunction


def test_a_scalar_subquery_is_a_conjunct_like_any_other() -> None:
    subquery = sqlglot.parse_one("SELECT * FROM t WHERE (SELECT b FROM u LIMIT 1)", read="postgres").args["where"].this
    assert isinstance(subquery, exp.Subquery)
    with pytest.raises(TypeError):
        exp.and_(subquery)  # what the federated planner met (XX000)
    other = sqlglot.parse_one("a = 1 OR b = 2", read="postgres")
    assert conjunction(subquery).sql() == "(SELECT b FROM u LIMIT 1)"
    assert conjunction(subquery, other).sql() == "(SELECT b FROM u LIMIT 1) AND (a = 1 OR b = 2)"


def test_no_condition_is_refused() -> None:
    with pytest.raises(ValueError):
        conjunction()
