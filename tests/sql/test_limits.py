"""Statement bounds checked before parsing: size (54000) and nesting depth (54001)."""

from __future__ import annotations

import pytest

from veil.errors import VeilError
from veil.sql import statements
from veil.sql.limits import MAX_NESTING, check_statement_size


def test_a_statement_over_the_size_limit_is_54000_naming_the_limit() -> None:
    check_statement_size("SELECT 1", 8)
    with pytest.raises(VeilError) as raised:
        check_statement_size("SELECT 'ü'", 10)  # 11 bytes in UTF-8, 10 characters
    assert raised.value.sqlstate == "54000"
    assert "11 bytes" in raised.value.message and "10" in raised.value.message
    assert "server.max_statement_bytes" in (raised.value.hint or "")


def test_nesting_deeper_than_the_limit_is_54001_before_parsing() -> None:
    deep = "SELECT " + "(" * (MAX_NESTING + 1) + "1" + ")" * (MAX_NESTING + 1)
    with pytest.raises(VeilError) as raised:
        statements.classify(deep)
    assert (raised.value.sqlstate, raised.value.message) == ("54001", "stack depth limit exceeded")
    assert statements.classify("SELECT " + "(" * MAX_NESTING + "1" + ")" * MAX_NESTING).ast is not None


def test_many_parentheses_side_by_side_are_not_nesting() -> None:
    wide = "SELECT " + ", ".join(["(1)"] * (MAX_NESTING * 3))
    assert statements.classify(wide).ast is not None
    quoted = "SELECT '" + "(" * (MAX_NESTING * 2) + "'"  # parentheses inside a string literal
    assert statements.classify(quoted).ast is not None


def test_a_parameter_that_is_not_a_number_is_a_syntax_error() -> None:
    # found by tests/stress/test_protocol_fuzz.py: it reached int() in the planner (XX000)
    for sql in ("SELECT $a", "SELECT $\u00b2", "SELECT $\x03Y\x7f1", "SELECT 1 WHERE $x = 1"):
        with pytest.raises(VeilError) as raised:
            statements.classify(sql)
        assert raised.value.sqlstate == "42601", sql
    assert statements.classify("SELECT $1, $12").ast is not None
