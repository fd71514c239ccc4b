"""PostgreSQL's numeric variance and standard deviation computed by DuckDB
(veil.pgcatalog.pgnumeric with veil.catalog.sources.pgvariance), compared byte for byte with
PostgreSQL's own output text: hundreds of random groups of every integer type and of numeric
columns of random precision and scale, with negative values, magnitudes at numeric(38)'s limits
(whose Σx² is beyond 128 bits), equal values (variance 0), NULLs and single rows (NULL for the
sample forms), on a DuckDB source and on the local engine."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import VeilServer, scratch_database
from tests.pgcatalog.numeric_support import numbers_server, wire_result
from veil.catalog.sources.pgvariance import ROOT, SAMPLE, spread

DATABASE = "veil_pgnumeric_spread"
FUNCTIONS = ("stddev", "stddev_samp", "stddev_pop", "var_samp", "var_pop", "variance")
GROUPS = 720
LOCAL_COLUMNS = ("int8", "numeric(38,0)", "numeric(38,18)", "numeric(38,38)")


def _columns(rng: random.Random) -> list[tuple[str, int, int]]:
    """(PostgreSQL type, precision, scale) of each column: the integers, numeric(38)'s edges and
    random precisions and scales."""
    fixed = [
        ("int2", 5, 0),
        ("int4", 10, 0),
        ("int8", 19, 0),
        ("numeric(38,0)", 38, 0),
        ("numeric(38,18)", 38, 18),
        ("numeric(38,38)", 38, 38),
        ("numeric(19,0)", 19, 0),
        ("numeric(10,2)", 10, 2),
    ]
    for _ in range(6):
        precision = rng.randint(1, 38)
        scale = rng.randint(0, precision)
        fixed.append((f"numeric({precision},{scale})", precision, scale))
    return fixed


_LIMITS = {"int2": (-(2**15), 2**15 - 1), "int4": (-(2**31), 2**31 - 1), "int8": (-(2**63), 2**63 - 1)}


def _value(rng: random.Random, kind: str, precision: int, style: str, base: int) -> int:
    """An unscaled value (x·10^scale) of the column's type, drawn the way the group's ``style`` says."""
    low, high = _LIMITS.get(kind, (-(10**precision) + 1, 10**precision - 1))
    if style == "equal":
        return base
    if style == "near":  # huge values a few units apart: cancellation in N·Σx² − (Σx)²
        return max(low, min(high, base - rng.randint(0, 1000)))
    if style == "edges":
        return rng.choice([low, high, 0, 1, -1, high - rng.randint(0, 9)])
    digits = rng.randint(1, len(str(high)))
    value = rng.randint(0, 10**digits - 1)
    return max(low, min(high, -value if rng.random() < 0.4 else value))


def _text(unscaled: int, scale: int) -> str:
    digits = str(abs(unscaled)).rjust(scale + 1, "0")
    body = digits[: len(digits) - scale] + ("." + digits[-scale:] if scale else "")
    return ("-" if unscaled < 0 else "") + body


def _rows(seed: int) -> tuple[list[tuple[str, int, int]], list[list[str]]]:
    """Columns and rows (``g`` first, SQL literals, NULL included) of :data:`GROUPS` groups."""
    rng = random.Random(seed)
    columns = _columns(rng)
    rows: list[list[str]] = []
    for group in range(GROUPS):
        size = rng.choice([1, 1, 2, 2, 3, 4, 5, 7, 10, 16])
        styles = [rng.choice(["random", "random", "near", "edges", "equal"]) for _ in columns]
        bases = [_value(rng, kind, precision, "edges", 0) for kind, precision, _ in columns]
        for _ in range(size):
            row = [str(group)]
            for (kind, precision, scale), style, base in zip(columns, styles, bases, strict=True):
                if rng.random() < 0.08:
                    row.append("NULL")
                else:
                    row.append(f"'{_text(_value(rng, kind, precision, style, base), scale)}'::{kind}")
            rows.append(row)
    return columns, rows


COLUMNS, ROWS = _rows(2026)


def _select(source: str, columns: list[tuple[str, int, int]]) -> str:
    calls = ", ".join(f"{f}(c{i})" for i in range(len(columns)) for f in FUNCTIONS)
    return f"select g, {calls} from {source} group by g order by g"


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory, postgres_dsn: str, warehouse: Path
) -> Iterator[tuple[str, VeilServer]]:
    definition = ", ".join(["g int4", *(f"c{i} {kind}" for i, (kind, _, _) in enumerate(COLUMNS))])
    values = ", ".join("(" + ", ".join(row) + ")" for row in ROWS)
    yield from numbers_server(
        tmp_path_factory.mktemp("pgnumeric_spread"),
        warehouse,
        scratch_database(postgres_dsn, DATABASE),
        [f"CREATE TABLE t ({definition})", f"INSERT INTO t VALUES {values}"],
        [
            "CREATE SCHEMA nums",
            f"CREATE TABLE nums.t ({definition.replace('int2', 'smallint')})",
            f"INSERT INTO nums.t VALUES {values.replace('::int2', '::smallint')}",
        ],
    )


def _run(dsn: str, sql: str) -> tuple[list[tuple[bytes | None, int]], list[list[str | None]]]:
    """Each column's (name, type OID) and the rows as text."""
    types, rows = wire_result(dsn, sql)
    return [(name, oid) for name, oid, _ in types], rows


def _differences(
    got: list[list[str | None]], expected: list[list[str | None]]
) -> list[tuple[int, int, str | None, str | None]]:
    return [
        (r, c, e, g)
        for r, (grow, erow) in enumerate(zip(got, expected, strict=True))
        for c, (g, e) in enumerate(zip(grow, erow, strict=True))
        if g != e
    ]


def _expected(servers: tuple[str, VeilServer]) -> tuple[list[tuple[bytes | None, int]], list[list[str | None]]]:
    dsn, _ = servers
    types, rows = _run(dsn, _select("t", COLUMNS))
    assert len(rows) == GROUPS
    flat = [v for row in rows for v in row[1:]]
    assert flat.count(None) > GROUPS and flat.count("0") > 100  # single rows and equal values were drawn
    assert max(len(v) for v in flat if v is not None) > 70  # Σx² of numeric(38) far beyond 128 bits
    return types, rows


def test_duckdb_source_is_postgres(servers: tuple[str, VeilServer]) -> None:
    expected = _expected(servers)
    got = _run(servers[1].dsn(), _select("nums.t", COLUMNS))
    assert len(got[1]) == GROUPS
    assert _differences(got[1], expected[1]) == []
    assert got[0] == expected[0]


@pytest.mark.timeout(600)
def test_local_engine_is_postgres(servers: tuple[str, VeilServer]) -> None:
    """The same groups as VALUES lists, one column at a time (no table: Veil's local engine
    answers), sent to Veil and to PostgreSQL: the widest columns (a 3,600-row VALUES list takes
    seconds to compile)."""
    dsn, server = servers
    compared = 0
    local = [i for i, (kind, _, _) in enumerate(COLUMNS) if kind in LOCAL_COLUMNS]
    for index in local:
        column = COLUMNS[index]
        # NULLs last: Veil types a VALUES column by its first row (PostgreSQL: by all rows)
        pairs = sorted(((row[0], row[index + 1]) for row in ROWS), key=lambda pair: pair[1] == "NULL")
        values = ", ".join(f"({group}, {value})" for group, value in pairs)
        sql = _select(f"(values {values}) v(g, c0)", [column])
        expected = _run(dsn, sql)
        got = _run(server.dsn(), sql)
        assert _differences(got[1], expected[1]) == [], column
        assert got[0] == expected[0]
        compared += len(got[1])
    assert compared == GROUPS * len(LOCAL_COLUMNS)


def test_spread_is_numeric_stddev_internal() -> None:
    """The per-group finish on its own: PostgreSQL's texts for a few hand-checked groups."""
    assert spread(1, 5, 25, 0, SAMPLE) is None and spread(0, 0, 0, 0, 0) is None
    assert spread(1, 5, 25, 0, ROOT) == "0"
    assert spread(4, 10, 30, 0, SAMPLE) == "1.6666666666666667"  # var_samp(1, 2, 3, 4)
    assert spread(4, 10, 30, 0, SAMPLE | ROOT) == "1.2909944487358056"  # stddev(1, 2, 3, 4)
    assert spread(2, 300, 50000, 2, 0) == "0.25000000000000000000"  # var_pop(1.00, 2.00)


@pytest.mark.parametrize("source", ["", " FROM nums.t", " FROM public.t"])
@pytest.mark.parametrize(
    "call",
    [
        "veil_numeric_variance(2, '0', '1', '0', '0', '0', '0', '0', '1', 1000000000, 0)",
        "veil_numeric_div(1.5, 7, 1000000000, 0)",
    ],
)
def test_clients_cannot_call_the_finishing_function(servers: tuple[str, VeilServer], source: str, call: str) -> None:
    """veil_numeric_variance and the veil_numeric_div macro run only in the SQL Veil writes: a
    client calling one (with a scale that would make Python compute 10^(2·10^9), or DuckDB pad
    a billion zeros) is refused before anything runs."""
    with psycopg.connect(servers[1].dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as refused:
            conn.execute(f"select {call}{source}")
        assert refused.value.sqlstate in ("42501", "42883")
