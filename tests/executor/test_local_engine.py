"""The local DuckDB that joins fragments: bounded memory that spills, and fragment values converted
to what PostgreSQL would compute with (unconstrained numeric, blank-padded char(n))."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from veil.config.loader import parse_config
from veil.errors import VeilError
from veil.executor.federated import FederatedExecution, LocalLimits, local_connection, local_threads
from veil.pgfields import pinned_field
from veil.pgtypes import NUMERIC
from veil.planner.federation.local_types import BPCHAR, SOURCE_TYPE_KEY, local_table

ROWS = 2_000_000
JOIN = "SELECT count(*), sum(r.v), count(DISTINCT l.payload) FROM l JOIN r ON l.id = r.id"


def _inputs() -> dict[str, pa.Table]:
    """~120 MB of join input: the hash table and the DISTINCT cannot fit in 64 MiB."""
    shuffled = np.random.default_rng(7).permutation(ROWS)
    payload = pc.binary_join_element_wise(pa.array(np.arange(ROWS).astype(str)), "x" * 40, "")
    return {
        "l": pa.table({"id": pa.array(np.arange(ROWS)), "payload": payload}),
        "r": pa.table({"id": pa.array(shuffled), "v": pa.array(shuffled * 2)}),
    }


def test_a_join_bigger_than_the_memory_limit_spills_and_is_right(tmp_path: Path) -> None:
    tables = _inputs()
    assert sum(t.nbytes for t in tables.values()) > 2 * 64 * 1024**2
    limits = LocalLimits(64 * 1024**2, tmp_path)
    connection = local_connection(tables, limits, tmp_path)
    try:
        assert connection.execute("SELECT current_setting('memory_limit')").fetchone() == ("64.0 MiB",)
        assert connection.execute(JOIN).fetchall() == [(ROWS, ROWS * (ROWS - 1), ROWS)]
    finally:
        connection.close()
    # The same join under the same limit with nowhere to spill runs out of memory: the input
    # really exceeds the limit, so the answer above came from spilling.
    unbounded = duckdb.connect(config={"memory_limit": "64MiB", "temp_directory": ""})
    for name, table in tables.items():
        unbounded.register(name, table)
    with pytest.raises(duckdb.OutOfMemoryException):
        unbounded.execute(JOIN)
    unbounded.close()


def test_the_local_engine_stays_locked_down(tmp_path: Path) -> None:
    connection = local_connection({}, LocalLimits(64 * 1024**2, tmp_path), tmp_path)
    try:
        with pytest.raises(duckdb.Error):
            connection.execute("SELECT * FROM read_csv('/etc/passwd')")
        with pytest.raises(duckdb.Error):
            connection.execute("SET memory_limit = '10GiB'")
        with pytest.raises(duckdb.Error):
            connection.execute("SET temp_directory = '/tmp'")
    finally:
        connection.close()


def test_limits_come_from_the_engine_section(tmp_path: Path) -> None:
    default = LocalLimits.from_config(parse_config({"state_dir": str(tmp_path)}))
    assert default == LocalLimits(1024**3, tmp_path / "spill")
    configured = parse_config({"engine": {"memory_limit": "64MiB", "temp_directory": str(tmp_path / "t")}})
    assert LocalLimits.from_config(configured) == LocalLimits(64 * 1024**2, tmp_path / "t")


def test_unconstrained_numerics_and_padded_chars_compute_like_postgresql() -> None:
    schema = pa.schema([
        pinned_field("total", pa.string(), NUMERIC),
        pa.field("brand", pa.string(), metadata={SOURCE_TYPE_KEY: BPCHAR}),
        pa.field("name", pa.string()),
    ])
    fragment = pa.table(
        [pa.array(["997177.6750", "1161099.4636"]), pa.array(["Brand#12  ", "Brand#23  "]), pa.array(["a ", "b"])],
        schema=schema,
    )
    connection = local_connection({"f": fragment})
    try:
        # as text, '997177.6750' > '1161099.4636'; char(n) compares without its padding
        assert connection.execute("SELECT max(total) FROM f").fetchone() == (1161099.4636,)
        assert connection.execute("SELECT count(*) FROM f WHERE brand = 'Brand#12'").fetchone() == (1,)
        assert connection.execute("SELECT count(*) FROM f WHERE name = 'a '").fetchone() == (1,)  # varchar keeps blanks
    finally:
        connection.close()
    assert local_table(fragment).schema.field("total").type == pa.float64()


def test_threads_are_bounded_by_the_memory_limit() -> None:
    assert local_threads(64 * 1024**2) == 1  # two threads under 64 MiB ran out of memory instead of spilling
    assert 1 <= local_threads(1024**3) <= max(1, os.cpu_count() or 1)


def test_a_local_join_that_cannot_fit_even_by_spilling_is_53200_naming_the_limit(tmp_path: Path) -> None:
    tables = _inputs()
    # 4 MiB cannot even hold DuckDB's working blocks: the join fails whatever it spills
    limits = LocalLimits(4 * 1024**2, tmp_path)
    connection = local_connection(tables, limits, tmp_path)
    try:
        with pytest.raises(duckdb.OutOfMemoryException) as raised:
            connection.execute(JOIN).fetchall()
    finally:
        connection.close()
    # what the federated execution reports for it (the engine and plan are stand-ins: only the
    # error mapping runs)
    config = parse_config({"engine": {"memory_limit": "4MiB", "temp_directory": str(tmp_path)}})
    execution = FederatedExecution(SimpleNamespace(config=config), SimpleNamespace(dynamic_filters=()), lambda e: e)  # type: ignore[arg-type]
    error = execution._error(raised.value, lambda exc: VeilError("XX000", str(exc)))
    assert error.sqlstate == "53200"
    assert "engine.memory_limit" in error.message and str(4 * 1024**2) in error.message
    assert "engine.temp_directory" in (error.hint or "")
