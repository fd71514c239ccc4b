"""The metadata store and object sync over DuckDB files (no server): what each kind of change is
reported as, New flags, statuses, collisions, a failing source, concurrent writers."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from tests.catalog.support import veil, write_config
from veil.catalog.model import Column
from veil.catalog.registry import build_catalog, open_source
from veil.catalog.sources.base import SourceTable
from veil.catalog.store import CatalogStore, StoredColumn, StoredTable
from veil.catalog.sync import compare, sync_connections
from veil.config import parse_config
from veil.config.models import VeilConfig
from veil.errors import VeilError
from veil.policy.principals import User
from veil.policy.resolve import NEW_COLUMN_POLICY, resolve_table_policy


def run(path: Path, *statements: str) -> None:
    connection = duckdb.connect(str(path))
    try:
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.close()


def make_config(tmp_path: Path, connections: dict[str, dict[str, object]], **extra: object) -> VeilConfig:
    return parse_config({"state_dir": str(tmp_path / "state"), "connections": connections, **extra})


def changes(config: VeilConfig, *names: str) -> list[tuple[str, str]]:
    sources = {name: open_source(name, conn) for name, conn in config.connections.items()}
    try:
        results = sync_connections(config, sources, list(names) or None, "test")
    finally:
        for source in sources.values():
            source.close()
    return [(c.kind, c.object) for r in results for c in r.changes]


def served(config: VeilConfig) -> dict[str, tuple[str, ...]]:
    catalog = build_catalog(config, sync=())
    for source in catalog.sources.values():
        source.close()
    return {t.qualified_name: t.new_columns for t in catalog.snapshot}


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "wh.duckdb"
    run(path, "CREATE SCHEMA s", "CREATE TABLE s.a (id INTEGER, v VARCHAR)", "CREATE TABLE s.b (x DOUBLE)")
    return path


def test_each_change_is_detected_exactly(tmp_path: Path, warehouse: Path) -> None:
    config = make_config(tmp_path, {"w": {"type": "duckdb", "path": str(warehouse)}})
    assert changes(config) == [("table_added", "w.s.a"), ("table_added", "w.s.b")]
    assert changes(config) == []
    run(warehouse, "ALTER TABLE s.a ADD COLUMN n BIGINT", "ALTER TABLE s.a ALTER v TYPE INTEGER",
        "ALTER TABLE s.b ADD COLUMN y DATE", "ALTER TABLE s.b DROP COLUMN x")
    assert changes(config) == [
        ("column_type_changed", "w.s.a.v"), ("column_added", "w.s.a.n"),
        ("column_added", "w.s.b.y"), ("column_dropped", "w.s.b.x"),
    ]
    assert served(config) == {"s.a": ("n",), "s.b": ("y",)}
    run(warehouse, "DROP TABLE s.b", "CREATE SCHEMA t", "CREATE TABLE t.c (k INTEGER)")
    assert changes(config) == [("schema_added", "w.t"), ("table_added", "w.t.c"), ("table_dropped", "w.s.b")]
    assert served(config) == {"s.a": ("n",), "t.c": ()}
    run(warehouse, "CREATE TABLE s.b (x DOUBLE)")
    assert changes(config) == [("table_added", "w.s.b")]
    assert served(config)["s.b"] == (), "a table found again after a drop is a new table: no New columns"


def test_recreated_table_with_the_same_columns_is_reported_by_object_id() -> None:
    columns = (Column("id", pa.int32()),)
    stored = StoredTable("c", "db", "s", "t", (StoredColumn("id", pa.int32()),), "active", id=1, object_id="10")
    same = compare("c", [stored], [SourceTable("db", "s", "t", columns, object_id="10")], new_status="active", initial=False)
    assert same.changes == [] and same.unchanged == [1]
    again = compare("c", [stored], [SourceTable("db", "s", "t", columns, object_id="11")], new_status="active", initial=False)
    assert [(c.kind, c.detail) for c in again.changes] == [("table_recreated", "object id 10 -> 11")]
    assert again.saves[0][1], "a recreated table counts as changed (its cached results go)"
    unknown = compare("c", [stored], [SourceTable("db", "s", "t", columns)], new_status="active", initial=False)
    assert unknown.changes == [], "a source without object ids cannot report recreation"


def test_new_tables_follow_activate_new_and_overrides_inherit(tmp_path: Path, warehouse: Path) -> None:
    config = make_config(tmp_path, {"w": {"type": "duckdb", "path": str(warehouse), "sync": {"activate_new": False}}})
    changes(config)
    assert set(served(config)) == {"s.a", "s.b"}, "the first sync registers the population as active"
    run(warehouse, "CREATE TABLE s.c (z INTEGER)")
    assert changes(config) == [("table_added", "w.s.c")]
    assert set(served(config)) == {"s.a", "s.b"}, "later tables wait for an admin (activate_new: false)"
    with CatalogStore.open(config.state_dir) as store:
        with store.write():
            store.set_override("w", "s", "c", "active")
        assert set(served(config)) == {"s.a", "s.b", "s.c"}
        with store.write():
            store.set_override("w", "s", "", "inactive")
        assert set(served(config)) == {"s.c"}, "the schema's status is inherited; the table's own override wins"
        with store.write():
            store.set_override("w", "", "", "inactive")
            store.set_override("w", "s", "", None)
        assert set(served(config)) == {"s.c"}


def test_name_collision_is_reported_once_and_the_later_table_skipped(tmp_path: Path, warehouse: Path) -> None:
    run(warehouse, "CREATE SCHEMA t", "CREATE TABLE t.a (other INTEGER)")
    flat = {"schema": "flat", "table": "<tablename>"}
    config = make_config(tmp_path, {"w": {"type": "duckdb", "path": str(warehouse), "naming": flat}})
    found = changes(config)
    assert ("name_collision", "w.t.a") in found
    assert changes(config) == []
    catalog = build_catalog(config, sync=())
    assert [(c.name, c.kept, c.skipped) for c in catalog.collisions] == [("flat.a", "w.s.a", "w.t.a")]
    assert catalog.snapshot.lookup("flat", "a").source_schema == "s"
    run(warehouse, "DROP TABLE s.a")
    assert changes(config) == [("table_dropped", "w.s.a"), ("name_collision_resolved", "w.t.a")]
    assert served(config)["flat.a"] == ()


def test_failing_source_keeps_its_tables_and_never_stops_the_others(tmp_path: Path, warehouse: Path) -> None:
    other = tmp_path / "other.duckdb"
    run(other, "CREATE TABLE o (q INTEGER)")
    config = make_config(tmp_path, {"w": {"type": "duckdb", "path": str(warehouse)},
                                    "o": {"type": "duckdb", "path": str(other)}})
    changes(config)
    other.rename(tmp_path / "moved.duckdb")
    run(warehouse, "CREATE TABLE s.c (z INTEGER)")
    catalog = build_catalog(config)
    assert "o" in catalog.errors and "does not exist" in catalog.errors["o"].message
    assert {t.qualified_name for t in catalog.snapshot} == {"s.a", "s.b", "s.c", "main.o"}
    with CatalogStore.open(config.state_dir) as store:
        failed = store.runs("o", limit=1)[0]
    assert failed.outcome == "failed" and "does not exist" in (failed.error or "")


def test_new_column_policy_masks_with_null_and_beats_every_mask(tmp_path: Path, warehouse: Path) -> None:
    config = make_config(
        tmp_path, {"w": {"type": "duckdb", "path": str(warehouse)}},
        tables={"w.s.a": {"tags": {"n": ["PII"]}}}, secrets={"hash_key": "k"},
        policies=[{"name": "hash pii", "mask": {"column_tags": ["PII"], "with": "hash"}}],
    )
    changes(config)
    run(warehouse, "ALTER TABLE s.a ADD COLUMN n VARCHAR")
    changes(config)
    table = build_catalog(config, sync=()).snapshot.lookup("s", "a")
    policy = resolve_table_policy(User("u"), table, config.policies, config.tables["w.s.a"])
    assert policy.masks["n"].policy == NEW_COLUMN_POLICY and policy.masks["n"].mask.with_ == "null"
    approved = table_id(config, "s", "a")
    with CatalogStore.open(config.state_dir) as store, store.write():
        assert store.approve(approved) == ["n"]
    table = build_catalog(config, sync=()).snapshot.lookup("s", "a")
    assert resolve_table_policy(User("u"), table, config.policies, config.tables["w.s.a"]).masks["n"].policy == "hash pii"


def table_id(config: VeilConfig, schema: str, name: str) -> int:
    catalog = build_catalog(config, sync=())
    entry = next(e for e in catalog.entries if (e.stored.schema, e.stored.name) == (schema, name))
    assert entry.stored.id is not None
    return entry.stored.id


def test_store_survives_reopening_and_concurrent_writers(tmp_path: Path, warehouse: Path) -> None:
    config = make_config(tmp_path, {"w": {"type": "duckdb", "path": str(warehouse)}})
    changes(config)
    run(warehouse, "ALTER TABLE s.a ADD COLUMN n BIGINT")
    errors: list[BaseException] = []

    def sync_once() -> None:
        try:
            changes(config)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=sync_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with CatalogStore.open(config.state_dir) as store:
        runs = store.runs("w", limit=10)
    assert sum(1 for r in runs for c in r.changes if c.kind == "column_added") == 1, "one writer saw the change"
    assert served(config) == {"s.a": ("n",), "s.b": ()}


def test_a_relocated_connection_is_registered_anew(tmp_path: Path, warehouse: Path) -> None:
    config = make_config(tmp_path, {"w": {"type": "duckdb", "path": str(warehouse)}})
    changes(config)
    elsewhere = tmp_path / "elsewhere.duckdb"
    run(elsewhere, "CREATE TABLE z (q INTEGER)")
    moved = make_config(tmp_path, {"w": {"type": "duckdb", "path": str(elsewhere)}})
    assert changes(moved) == [("table_added", "w.main.z")]
    assert set(served(moved)) == {"main.z"}


def test_population_and_collisions_across_connections(tmp_path: Path, warehouse: Path) -> None:
    other = tmp_path / "other.duckdb"
    run(other, "CREATE SCHEMA s", "CREATE TABLE s.a (q INTEGER)")
    connections = {"w": {"type": "duckdb", "path": str(warehouse)}, "o": {"type": "duckdb", "path": str(other)}}
    config = make_config(tmp_path, connections)
    found = changes(config)
    assert ("name_collision", "o.s.a") in found, "the later connection's table is skipped"
    assert build_catalog(config, sync=()).snapshot.lookup("s", "a").connection == "w"
    narrowed = make_config(tmp_path, {**connections, "w": {**connections["w"], "population": {"tables": ["s.b"]}}})
    assert changes(narrowed, "w") == [("table_dropped", "w.s.a"), ("name_collision_resolved", "o.s.a")]
    with CatalogStore.open(narrowed.state_dir) as store:
        dropped = store.runs("w", limit=1)[0].changes[0]
    assert dropped.detail == "left the connection's population"
    assert build_catalog(narrowed, sync=()).snapshot.lookup("s", "a").connection == "o"


def test_status_and_approve_from_the_command_line(tmp_path: Path, warehouse: Path) -> None:
    config = {"state_dir": str(tmp_path / "state"), "connections": {"w": {"type": "duckdb", "path": str(warehouse)}}}
    path = write_config(tmp_path, config)
    assert veil("sync", "-c", str(path)).returncode == 0
    assert veil("status", "-c", str(path), "w.s", "inactive").returncode == 0
    listed = veil("status", "-c", str(path))
    assert "w.s.a" in listed.stdout and "inactive" in listed.stdout and "w.s = inactive" in listed.stdout
    assert veil("status", "-c", str(path), "nope.s", "active").returncode == 2
    assert veil("status", "-c", str(path), "w.s", "inherit").returncode == 0
    assert "inactive" not in veil("status", "-c", str(path)).stdout
    unknown = veil("sync", "-c", str(path), "nope")
    assert unknown.returncode == 2 and "unknown connection nope" in unknown.stderr
    assert veil("approve", "-c", str(path), "s.a").stdout.startswith("s.a: nothing to approve")


def test_a_store_written_by_another_version_is_refused_with_a_way_out(tmp_path: Path, warehouse: Path) -> None:
    state = tmp_path / "state"
    CatalogStore(state / "catalog.db").close()
    db = sqlite3.connect(state / "catalog.db")
    db.execute("ALTER TABLE columns ADD COLUMN source_tags TEXT")  # what another version's layout looks like
    db.close()
    with pytest.raises(VeilError) as info:
        CatalogStore(state / "catalog.db")
    assert info.value.sqlstate == "F0000" and "another Veil version" in info.value.message
    assert "source_tags" in info.value.message and info.value.hint and "move" in info.value.hint

    config = write_config(tmp_path, {
        "state_dir": str(state), "server": {"port": 0},
        "connections": {"warehouse": {"type": "duckdb", "path": str(warehouse)}},
    })
    for command in (("serve", "-c", str(config)), ("sync", "-c", str(config))):
        result = veil(*command)
        assert result.returncode != 0
        output = result.stdout + result.stderr
        assert "another Veil version" in output and "Traceback" not in output
