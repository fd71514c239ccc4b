"""veil.errcodes: one class per PostgreSQL error SQLSTATE, named as psycopg (which generates its
errors from the same errcodes.txt) names them."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
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


SHIPPED = Path(errcodes.__file__).parent / "errcodes.txt"
# Returns the SQLSTATE PostgreSQL raises for a condition name, NULL for a name it does not know
# (RAISE then fails with "unrecognized exception condition", whose message is not the name).
SQLSTATE_OF = """
CREATE FUNCTION pg_temp.sqlstate_of(name text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = name;
EXCEPTION WHEN query_canceled OR assert_failure OR others THEN
    RETURN CASE WHEN SQLERRM = name THEN SQLSTATE END;
END $$
"""


def test_table_is_the_shipped_file_and_veils_classes_are_its_own() -> None:
    codes = errcodes.error_codes(SHIPPED.read_text(encoding="utf-8"))
    assert [code for code, _, _ in codes] == list(errcodes.BY_SQLSTATE)
    for cls in errcodes.BY_SQLSTATE.values():
        assert getattr(errcodes, cls.__name__) is cls and cls.__module__ == "veil.errcodes"
    # the classes written out for mypy are the table's, not copies
    assert errcodes.BY_SQLSTATE["0A000"] is errcodes.FeatureNotSupported
    assert errcodes.BY_SQLSTATE["22012"].__doc__ == "22012 (Class 22 - Data Exception)."
    assert {cls.__name__ for code, cls in errcodes.BY_SQLSTATE.items() if code in ("38002", "2F002")} == {
        "ModifyingSqlDataNotPermitted", "ModifyingSqlDataNotPermittedExt",
    }


@pytest.mark.skipif(not Path("/usr/share/postgresql/15/errcodes.txt").exists(), reason="no postgresql-15 package")
def test_shipped_file_is_postgres_15s() -> None:
    assert SHIPPED.read_bytes() == Path("/usr/share/postgresql/15/errcodes.txt").read_bytes()


def test_error_codes_are_postgres_15s(postgres_dsn: str) -> None:
    """PostgreSQL 15 itself answers each condition name with the table's SQLSTATE; and the error
    conditions psycopg knows (a newer errcodes.txt) that the table lacks, PostgreSQL 15 does not know."""
    first: dict[str, str] = {}
    for code, spec_name, _ in errcodes.error_codes(SHIPPED.read_text(encoding="utf-8")):
        first.setdefault(spec_name, code)
    missing = {
        code: re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__.removesuffix("_").removesuffix("Ext")).lower()
        for code, cls in psycopg.errors._sqlcodes.items()
        if len(code) == 5 and code not in errcodes.BY_SQLSTATE and code[:2] not in ("00", "01", "02")
    }
    assert "transaction_timeout" in missing.values()  # PostgreSQL 17's 25P04
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        assert connection.info.server_version // 10000 == 15
        connection.execute(SQLSTATE_OF)
        names = sorted({*first, *missing.values()})
        answered = dict(connection.execute("SELECT n, pg_temp.sqlstate_of(n) FROM unnest(%s::text[]) n", [names]))
    assert {name: answered[name] for name in first} == first
    assert {name: answered[name] for name in missing.values()} == dict.fromkeys(missing.values())
    assert len(first) == len(errcodes.BY_SQLSTATE) - 4  # four external-routine codes reuse a name (Ext)
