"""Every mask gives the same values when pushed to Databricks as when run on DuckDB.

The Databricks side runs on the fake warehouse, which executes Databricks SQL on DuckDB after
sqlglot's databricks→duckdb transpile. So this checks the Databricks SQL text Veil generates only
as far as that transpile is faithful (e.g. ``sha2(x, 256)`` becoming ``sha256(x)``); a real warehouse
evaluating e.g. regex or rounding differently would not be caught here. The keyed hash is also
checked against Python's hashlib, independently of both engines.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from sqlglot import exp

from tests.fakes.databricks_warehouse import running_warehouse
from veil.catalog.sources.databricks.source import DatabricksSource
from veil.config.models import ConnectionConfig, MaskPolicy
from veil.policy.masks import mask_expression

KEY = "mask-key"
TEXTS = ["ada@example.com", "Zoë ünïcode ☃", "4111111111111111", "ab", None]
NUMBERS = [1234.5678, -0.5, 2.5, None]
TIMES = [dt.datetime(2024, 2, 29, 13, 14, 15), dt.datetime(1999, 12, 31, 23, 59, 59), None]

MASKS: list[tuple[dict[str, Any], list[Any]]] = [
    ({"with": "hash"}, TEXTS),
    ({"with": "null"}, TEXTS),
    ({"with": "constant", "value": "REDACTED"}, TEXTS),
    ({"with": "regex", "pattern": "[0-9]", "replacement": "#"}, TEXTS),
    ({"with": "round", "digits": 1}, NUMBERS),
    ({"with": "round", "unit": "month"}, TIMES),
    ({"with": "round", "unit": "hour"}, TIMES),
    ({"with": "year"}, TIMES),
    ({"with": "show_first", "n": 3}, TEXTS),
    ({"with": "show_last", "n": 4}, TEXTS),
    ({"with": "email_domain"}, TEXTS),
    ({"with": "custom", "sql": "upper(@column)"}, TEXTS),
]


@pytest.fixture(scope="module")
def source() -> Iterator[DatabricksSource]:
    with running_warehouse() as warehouse:
        databricks = DatabricksSource("dbx", ConnectionConfig.model_validate(warehouse.connection_config()))
        yield databricks
        databricks.close()


def _values_sql(values: list[Any], dialect: str) -> str:
    """``SELECT ... UNION ALL`` of typed literals, with a position to order by."""
    parts = []
    for position, value in enumerate(values):
        if value is None:
            literal: exp.Expression = exp.Null()
        elif isinstance(value, str):
            literal = exp.Literal.string(value)
        elif isinstance(value, float):
            literal = exp.cast(exp.Literal.number(repr(value)), exp.DataType.build("double"))
        else:
            literal = exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.build("timestamp"))
        parts.append(f"SELECT {position} AS pos, {literal.sql(dialect)} AS v")
    kind = type(next(v for v in values if v is not None))
    typed = {str: "string", float: "double", dt.datetime: "timestamp"}[kind]
    return " UNION ALL ".join(parts).replace("NULL AS v", f"CAST(NULL AS {_type(typed, dialect)}) AS v")


def _type(name: str, dialect: str) -> str:
    return exp.DataType.build(name, dialect="databricks").sql(dialect)


def _masked_sql(spec: dict[str, Any], values: list[Any], dialect: str) -> str:
    mask = MaskPolicy.model_validate({"columns": ["v"], **spec})
    masked = mask_expression(mask, exp.column("v", table="t"), dialect, KEY)
    return f"SELECT t.pos, {masked.sql(dialect)} AS m FROM ({_values_sql(values, dialect)}) AS t ORDER BY t.pos"


def _on_databricks(source: DatabricksSource, sql: str) -> list[Any]:
    cursor = source.cursor()
    try:
        reader = cursor.execute(sql)
        rows: list[Any] = []
        while True:
            try:
                rows += reader.read_next_batch().column(1).to_pylist()
            except StopIteration:
                return rows
    finally:
        cursor.close()


def _normalized(values: list[Any]) -> list[Any]:
    """Timestamps without zone, floats rounded to the mask's precision noise."""
    return [v.replace(tzinfo=None) if isinstance(v, dt.datetime) else round(v, 9) if isinstance(v, float) else v
            for v in values]


@pytest.mark.parametrize(("spec", "values"), MASKS, ids=[
    f"{s['with']}-{s.get('unit') or s.get('digits') or s.get('n') or ''}" for s, _ in MASKS])
def test_mask_gives_the_same_values_on_databricks_and_duckdb(source: DatabricksSource, spec: dict[str, Any],
                                                             values: list[Any]) -> None:
    expected = [row[1] for row in duckdb.connect().execute(_masked_sql(spec, values, "duckdb")).fetchall()]
    actual = _on_databricks(source, _masked_sql(spec, values, "databricks"))
    assert _normalized(actual) == _normalized(expected)
    if spec["with"] == "round" and "unit" in spec:
        assert all(v.tzinfo is None for v in actual if v is not None), "documented as timestamp without time zone"
    if spec["with"] != "null":
        assert [v is None for v in actual] == [v is None for v in values], "NULL stays NULL, nothing else does"


def test_keyed_hash_matches_python(source: DatabricksSource) -> None:
    actual = _on_databricks(source, _masked_sql({"with": "hash"}, TEXTS, "databricks"))
    assert actual == [hashlib.sha256(f"{KEY}:{v}".encode()).hexdigest() if v is not None else None for v in TEXTS]

