"""veil.errcodes: one class per PostgreSQL error SQLSTATE, named as psycopg (which generates its
errors from the same errcodes.txt) names them."""

from __future__ import annotations

import psycopg.errors
import pytest

from veil import errcodes
from veil.errors import VeilError


def test_each_class_sends_its_own_sqlstate() -> None:
    error = errcodes.FeatureNotSupported("COPY FROM is not supported", hint="use COPY TO STDOUT")
    assert isinstance(error, VeilError)
    assert (error.sqlstate, error.message, error.hint, error.detail) == (
        "0A000", "COPY FROM is not supported", "use COPY TO STDOUT", None,
    )
    assert str(error) == "0A000: COPY FROM is not supported"
    with pytest.raises(VeilError) as raised:
        raise errcodes.InvalidTextRepresentation('invalid input syntax for type integer: "x"')
    assert raised.value.sqlstate == "22P02"


def test_codes_are_postgres_error_codes_and_unique() -> None:
    assert len(errcodes.BY_SQLSTATE) > 200
    for sqlstate, cls in errcodes.BY_SQLSTATE.items():
        assert sqlstate == cls.SQLSTATE and len(sqlstate) == 5 and sqlstate.isalnum()
        assert not sqlstate.startswith(("00", "01", "02"))  # success and warnings are not errors


def test_names_match_psycopg() -> None:
    known = psycopg.errors._sqlcodes  # psycopg's SQLSTATE -> class table (errcodes.txt of its release)
    shared = [code for code in errcodes.BY_SQLSTATE if code in known and code != "XX000"]
    assert len(shared) > 200
    mismatched = {c: (errcodes.BY_SQLSTATE[c].__name__, known[c].__name__) for c in shared
                  if errcodes.BY_SQLSTATE[c].__name__ != known[c].__name__}
    assert mismatched == {}
    # psycopg says InternalError_ only because DB-API already has an InternalError
    assert errcodes.BY_SQLSTATE["XX000"].__name__ == "InternalError"
