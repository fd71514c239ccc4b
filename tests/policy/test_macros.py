import duckdb
import pytest

from veil.errors import VeilError
from veil.policy.macros import expand_macros
from veil.policy.principals import User

ALICE = User("alice", frozenset({"Analytics"}), {"country": ("US", "CA"), "region": ("x') OR TRUE --",)})


def evaluate(condition: str, **columns: str) -> object:
    select = ", ".join(f"${i} AS {name}" for i, name in enumerate(columns, 1)) or "1 AS one"
    query = f"SELECT {condition} FROM (SELECT {select})"
    return duckdb.sql(query, params=list(columns.values()) or None).fetchall()[0][0]


def test_attribute_values_contains() -> None:
    sql = expand_macros("@attributeValuesContains('country', country)", ALICE)
    assert sql == "(country) IN ('US', 'CA')"
    assert evaluate(sql, country="US") is True
    assert evaluate(sql, country="DE") is False


def test_missing_attribute_sees_nothing() -> None:
    sql = expand_macros("@attributeValuesContains('department', dept)", ALICE)
    assert sql == "FALSE"


def test_values_cannot_inject_sql() -> None:
    sql = expand_macros("@attributeValuesContains('region', region) AND @attribute('region') = region", ALICE)
    assert evaluate(sql, region="EU") is False
    assert evaluate(sql, region="x') OR TRUE --") is True


def test_username_groups_and_booleans() -> None:
    assert expand_macros("owner = @username", ALICE) == "owner = 'alice'"
    assert expand_macros("@isInGroups('Fraud', 'Analytics')", ALICE) == "TRUE"
    assert expand_macros("@isInGroups('Fraud')", ALICE) == "FALSE"
    assert expand_macros("@hasAttribute('country', 'CA')", ALICE) == "TRUE"
    assert expand_macros("@hasAttribute('country', 'DE')", ALICE) == "FALSE"
    assert evaluate(expand_macros("@groupsContains(team)", ALICE), team="Analytics") is True
    assert expand_macros("@attribute('nope') IS NULL", ALICE) == "CAST(NULL AS TEXT) IS NULL"


def test_unknown_macro_is_an_error() -> None:
    with pytest.raises(VeilError) as info:
        expand_macros("@dropEverything()", ALICE)
    assert info.value.sqlstate == "42883"
