"""The last guard before an ErrorResponse: no engine's or driver's wording reaches a client."""

from __future__ import annotations

import pytest

from veil.errors import VeilError, client_error
from veil.proxy import messages


@pytest.mark.parametrize(
    ("message", "cleaned"),
    [
        ('Binder Error: Referenced column "x" not found', 'Referenced column "x" not found'),
        ("INVALID_DATA: [libpq] Failed to execute prepared statement: PGRES_FATAL_ERROR ERROR:  division by zero", "division by zero"),
        ("NOT_FOUND: Failed to prepare query: ERROR:  relation \"t\" does not exist", 'relation "t" does not exist'),
        ("syntax error: Required keyword: 'format' missing for <class 'sqlglot.expressions.temporal.TimeToStr'>", "syntax error: Required keyword: 'format' missing"),
        ('relation "duckdb" does not exist', 'relation "duckdb" does not exist'),
        ("division by zero", "division by zero"),
    ],
)
def test_engine_prefixes_are_removed(message: str, cleaned: str) -> None:
    assert client_error(VeilError("22012", message)).message == cleaned


def test_a_message_still_naming_an_engine_is_replaced() -> None:
    error = client_error(VeilError("XX000", "boom in _duckdb.BinderException: x", hint="see sqlglot.parser.Parser"))
    assert error.message == "the statement could not be processed" and error.hint is None
    assert client_error(VeilError("42601", "bad\nTraceback (most recent call last):\n  File x")).message == "bad"


def test_the_error_response_carries_the_cleaned_message() -> None:
    raw = messages.error_response(VeilError("42P01", "Catalog Error: Table with name t does not exist!"))
    assert b"Catalog Error" not in raw and b"Table with name t does not exist!" in raw
    unchanged = VeilError("42P01", 'relation "t" does not exist', hint="h", position=3)
    assert client_error(unchanged) is unchanged
