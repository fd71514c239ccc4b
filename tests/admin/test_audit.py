"""The audit log: record serialisation and the kept-open JSON-lines file."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

import veil.admin.audit as audit_module
from veil.admin.audit import AppliedPolicy, AuditLog, AuditRecord
from veil.errors import VeilError


def _record(**changes: object) -> AuditRecord:
    record = AuditRecord(
        user="alice",
        client_address="127.0.0.1",
        application_name="psql ☃",
        statement="SELECT * FROM t WHERE note = 'é\"x'",
    )
    for name, value in changes.items():
        setattr(record, name, value)
    return record


def _reference_json(record: AuditRecord) -> str:
    """What records serialised to before the fast path: asdict, then json.dumps."""
    data = asdict(record)
    data.pop("started")
    return json.dumps(data, default=str, separators=(",", ":"))


def test_to_json_matches_asdict() -> None:
    plain = _record()
    full = _record(
        tables=["sales.orders", "sales.customers"],
        connections=["warehouse"],
        pushed_sql=['SELECT "id" FROM "sales"."orders"'],
        policies=[
            AppliedPolicy("Mask cards", "sales.orders", "mask", ("card", "email")),
            AppliedPolicy("Own rows", "sales.orders", "row_filter"),
        ],
        outcome="error",
        sqlstate="42P01",
        error="relation missing",
        rows=12,
        bytes=3456,
        duration_ms=1.25,
        cache_hit=True,
    )
    for record in (plain, full):
        assert record.to_json() == _reference_json(record)
        assert "started" not in json.loads(record.to_json())


def test_log_appends_lines_and_survives_rotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_module, "_RECHECK_SECONDS", 0.0)  # check the path on every write
    path = tmp_path / "audit" / "audit.jsonl"
    log = AuditLog(path)
    log.write(_record(statement="one"))
    log.fail(_record(statement="two"), VeilError("42P01", "missing"))
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["statement"] for r in lines] == ["one", "two"]
    assert lines[1]["outcome"] == "error" and lines[1]["sqlstate"] == "42P01"

    path.rename(tmp_path / "audit" / "audit.jsonl.1")  # rotated: the next record starts a new file
    log.write(_record(statement="three"))
    assert [json.loads(x)["statement"] for x in path.read_text().splitlines()] == ["three"]

    path.unlink()  # deleted: recreated
    log.write(_record(statement="four"))
    assert [json.loads(x)["statement"] for x in path.read_text().splitlines()] == ["four"]
    log.close()
    log.write(_record(statement="five"))  # reopened after close
    assert path.read_text().count("\n") == 2
    log.close()


def test_a_record_written_just_after_rotation_lands_in_the_rotated_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.write(_record(statement="one"))
    rotated = path.rename(tmp_path / "audit.jsonl.1")
    log.write(_record(statement="two"))  # within the recheck window: still the open file
    assert [json.loads(x)["statement"] for x in rotated.read_text().splitlines()] == ["one", "two"]
    assert not path.exists()
    log.close()


def test_log_without_path_only_times(tmp_path: Path) -> None:
    log = AuditLog(None)
    record = _record()
    log.write(record)
    assert record.duration_ms >= 0
    assert not list(tmp_path.iterdir())


def test_record_template_writes_what_write_writes(tmp_path: Path) -> None:
    """A repeated statement's line assembled from its template is the line of its whole record,
    secrets scrubbed alike."""
    base = _record(
        statement="SELECT * FROM t WHERE note = 'hunter2 -7315931'",
        tables=["sales.orders"],
        connections=["warehouse"],
        pushed_sql=['SELECT "id" FROM "sales"."orders" WHERE "id" = $1'],
        policies=[AppliedPolicy("Mask cards", "sales.orders", "mask", ("card",))],
    )
    template = audit_module.RecordTemplate(base)
    whole, fast = AuditLog(tmp_path / "whole.jsonl", ("hunter2",)), AuditLog(tmp_path / "fast.jsonl", ("hunter2",))
    for rows, size in ((1, 57), (0, 0), (10_000, 1 << 33)):
        record = _record(**{**base.__dict__, "rows": rows, "bytes": size})
        whole.write(record)
        fast.write_repeated(template, record.time, record.started, rows, size)
    written = [(tmp_path / name).read_text().splitlines() for name in ("whole.jsonl", "fast.jsonl")]
    for line, other in zip(*written, strict=True):
        mine, theirs = json.loads(line), json.loads(other)
        assert mine.pop("duration_ms") >= 0 and theirs.pop("duration_ms") >= 0
        assert mine == theirs
        assert "hunter2" not in other
    with pytest.raises(ValueError, match="sentinel"):
        audit_module.RecordTemplate(_record(pushed_sql=["SELECT -7315931"]))
