"""Helpers shared by the client tests: locating system files and parsing tab-separated reports."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def require_library(probe: list[str], what: str, package: str) -> None:
    """A client library the test needs, checked by running ``probe`` (exit 0: installed): skipped
    on a laptop without it, a failure in CI."""
    if subprocess.run(probe, capture_output=True, timeout=30, check=False).returncode == 0:
        return
    if in_ci():
        pytest.fail(f"{what} is required in CI (apt package {package})")
    pytest.skip(f"{what} is not installed (apt package {package})")


def require_file(candidates: list[Path], what: str) -> Path:
    """The first existing path: skipped on a laptop without it, a failure in CI."""
    for candidate in candidates:
        if candidate.exists():
            return candidate
    message = f"{what} not found (looked in {', '.join(str(c) for c in candidates)})"
    if in_ci():
        pytest.fail(f"{message}; it is required in CI")
    pytest.skip(message)


def unescape(field: str) -> str:
    """Undo the Java side's escaping of backslash, tab and newline."""
    out: list[str] = []
    chars = iter(field)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        following = next(chars, "")
        out.append({"t": "\t", "n": "\n", "\\": "\\"}.get(following, "\\" + following))
    return "".join(out)


@dataclass
class Report:
    """Records printed by a client program: one line per record, ``kind<TAB>field<TAB>...``."""

    records: list[tuple[str, ...]]
    stderr: str = ""
    returncode: int = 0
    server_log: Path | None = None
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)
    passed: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, stdout: str, stderr: str = "", returncode: int = 0) -> Report:
        records = [tuple(unescape(part) for part in line.split("\t")) for line in stdout.splitlines() if line]
        report = cls(records, stderr, returncode)
        for record in records:
            if record[0] == "ok":
                report.passed.add(record[1])
            elif record[0] == "fail":
                report.failures[record[1]] = (record[2], record[3] if len(record) > 3 else "")
        return report

    def rows(self, kind: str) -> list[tuple[str, ...]]:
        return [record[1:] for record in self.records if record[0] == kind]

    def one(self, kind: str) -> tuple[str, ...]:
        rows = self.rows(kind)
        assert len(rows) == 1, f"expected one {kind!r} record, got {rows}\n{self.context()}"
        return rows[0]

    def assert_section_ok(self, name: str) -> None:
        if name in self.failures:
            state, message = self.failures[name]
            pytest.fail(f"section {name!r} failed: SQLSTATE {state}: {message}\n{self.context()}")
        assert name in self.passed, f"section {name!r} did not run\n{self.context()}"

    def context(self) -> str:
        tail = "\n".join("\t".join(record) for record in self.records[-15:])
        text = f"exit code {self.returncode}; last records:\n{tail}\nstderr:\n{self.stderr[-4000:]}"
        if self.server_log is not None and self.server_log.exists():
            text += f"\nserver log ({self.server_log}), last lines:\n{log_tail(self.server_log)}"
        return text


def log_tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
