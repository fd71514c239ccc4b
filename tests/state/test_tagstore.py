"""The SQLite tag store: findings replace earlier ones, rejections stick, a counter tracks changes."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from veil.discovery.watch import TagWatcher
from veil.state.tagstore import (
    TABLE_TAG_COLUMN,
    ColumnFinding,
    TagStore,
    read_discovered,
    read_version,
    store_path,
)

CARD = ("Discovered.Entity.CreditCardNumber", "Discovered.PCI", "Discovered.PII")
EMAIL = ("Discovered.Entity.EmailAddress", "Discovered.PII")
KEY = "w.sales.payments"


def card(column: str = "card_number") -> ColumnFinding:
    return ColumnFinding(column, "string", "CreditCardNumber", CARD, 0.98, 100)


def test_store_is_wal_and_counts_modifications(tmp_path: Path) -> None:
    with TagStore.open(tmp_path / "state") as store:
        assert store.version() == 0
        store.record_scan(KEY, [card()], {})
        assert store.version() == 1
    assert store_path(tmp_path / "state").exists()
    mode = sqlite3.connect(store_path(tmp_path / "state")).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert read_version(store_path(tmp_path / "state")) == 1
    assert read_version(tmp_path / "missing.sqlite") is None


def test_scan_replaces_discovered_tags_of_scanned_columns_only(tmp_path: Path) -> None:
    with TagStore.open(tmp_path) as store:
        store.record_scan(KEY, [card(), ColumnFinding("email", "string", "EmailAddress", EMAIL, 1.0, 10)], {})
        changes = store.record_scan(KEY, [ColumnFinding("card_number", "string")], {})
        assert changes[0].removed == tuple(sorted(CARD))
        tags = store.discovered().for_table(KEY)
        assert tags == {"email": tuple(sorted(EMAIL))}


def test_config_tags_are_recorded_with_their_origin_and_never_duplicated(tmp_path: Path) -> None:
    with TagStore.open(tmp_path) as store:
        changes = store.record_scan(KEY, [card()], {"card_number": ["Discovered.PCI", "PII.Card"]})
        assert changes[0].in_config == ("Discovered.PCI",)
        origins = {(t.tag, t.origin) for t in store.tags(KEY)}
        assert ("PII.Card", "config") in origins and ("Discovered.PCI", "config") in origins
        assert ("Discovered.PCI", "discovery") not in origins
        assert set(store.discovered().for_table(KEY)["card_number"]) == {CARD[0], CARD[2]}


def test_rejected_tags_stay_rejected(tmp_path: Path) -> None:
    with TagStore.open(tmp_path) as store:
        store.record_scan(KEY, [card(), card("backup_card")], {})
        assert store.reject(KEY, "card_number", "Discovered.Entity.CreditCardNumber")
        assert store.reject(KEY, "backup_card", "Discovered.PII")
        changes = store.record_scan(KEY, [card(), card("backup_card")], {})
        assert changes[0].rejected == CARD and changes[0].added == ()
        discovered = store.discovered().for_table(KEY)
        assert "card_number" not in discovered  # the whole classification was rejected
        assert set(discovered["backup_card"]) == {CARD[0], CARD[1]}
        assert store.unreject(KEY, "card_number", CARD[0])
        assert not store.unreject(KEY, "card_number", CARD[0])
        store.record_scan(KEY, [card()], {})
        assert set(store.discovered().for_table(KEY)["card_number"]) == set(CARD)


def test_engine_side_reads_never_create_a_store(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "tags.sqlite"
    assert read_discovered(path) is None
    watcher = TagWatcher(path)
    assert not watcher.poll(force=True)
    assert not path.parent.exists()


def test_watcher_notices_changes_at_most_once_per_interval(tmp_path: Path) -> None:
    watcher = TagWatcher(store_path(tmp_path), interval=3600)
    watcher.poll(force=True)
    with TagStore.open(tmp_path) as store:
        store.record_scan(KEY, [card()], {})
        assert not watcher.poll()  # checked moments ago
        assert watcher.poll(force=True)
        assert set(watcher.current.for_table(KEY)["card_number"]) == set(CARD)
        store.record_scan(KEY, [card()], {})  # same tags: the counter moves, the tags do not
        assert not watcher.poll(force=True)


def test_concurrent_writers_and_readers(tmp_path: Path) -> None:
    TagStore.open(tmp_path).close()
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            with TagStore.open(tmp_path) as store:
                for i in range(20):
                    store.record_scan(f"w.s.t{worker}", [card(f"c{i}")], {})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(50):
                read_discovered(store_path(tmp_path))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)] + [threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    discovered = read_discovered(store_path(tmp_path))
    assert discovered is not None and discovered.version == 80
    assert sum(len(c) for c in discovered.by_table.values()) == 80


def test_source_table_tags_round_trip_apart_from_column_tags(tmp_path: Path) -> None:
    with TagStore.open(tmp_path) as store:
        assert store.replace_source_tags("snow", {
            "snow.S.T": {TABLE_TAG_COLUMN: ["DOMAIN.Sales", "CERTIFIED"], "PHONE": ["PII.Phone"]},
            "snow.S.U": {TABLE_TAG_COLUMN: ["DOMAIN.Hr"]},
        })
        assert not store.replace_source_tags("snow", {  # the same tags: no change, no new version
            "snow.S.T": {"PHONE": ["PII.Phone"], TABLE_TAG_COLUMN: ["CERTIFIED", "DOMAIN.Sales"]},
            "snow.S.U": {TABLE_TAG_COLUMN: ["DOMAIN.Hr"]},
        })
        rows = {(t.table_key, t.column, t.tag, t.origin) for t in store.tags("snow.S.T")}
    assert rows == {("snow.S.T", "", "CERTIFIED", "source"), ("snow.S.T", "", "DOMAIN.Sales", "source"),
                    ("snow.S.T", "PHONE", "PII.Phone", "source")}
    found = read_discovered(store_path(tmp_path))
    assert found is not None
    assert found.tables == {"snow.S.T": ("CERTIFIED", "DOMAIN.Sales"), "snow.S.U": ("DOMAIN.Hr",)}
    # A table tag is never taken for a column's tag.
    assert found.for_table("snow.S.T") == {"PHONE": ("PII.Phone",)}
    assert found.for_table("snow.S.U") == {}
    # Config table tags come first; a source tag the config already sets is not repeated.
    assert found.table_tags("snow.S.T", ["Finance", "CERTIFIED"]) == ("Finance", "CERTIFIED", "DOMAIN.Sales")
    assert found.table_tags("snow.S.X") == ()
    watcher = TagWatcher(store_path(tmp_path), interval=0)
    assert watcher.poll(force=True)
    with TagStore.open(tmp_path) as store:  # only a table tag goes: the watcher notices
        assert store.replace_source_tags("snow", {
            "snow.S.T": {TABLE_TAG_COLUMN: ["DOMAIN.Sales", "CERTIFIED"], "PHONE": ["PII.Phone"]},
        })
    assert watcher.poll(force=True)
    assert watcher.current.tables == {"snow.S.T": ("CERTIFIED", "DOMAIN.Sales")}
