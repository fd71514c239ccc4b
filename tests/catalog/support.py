"""Helpers for object sync tests against a real PostgreSQL and a real `veil serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import yaml

from tests.clients.support import require_file
from tests.clients.test_jdbc import JAR_CANDIDATES
from tests.conftest import VeilServer, require_tool, scratch_database


@dataclass
class LiveServer:
    """A running `veil serve` over a source under test, and its directory (where the audit goes)."""

    server: VeilServer
    directory: Path

    def rows(self, sql: str, user: str = "alice", binary: bool = False, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.server.dsn(user), autocommit=True) as connection:
            return connection.cursor(binary=binary).execute(sql, params).fetchall()

    def audit(self) -> list[dict[str, Any]]:
        path = self.directory / "audit.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@contextmanager
def private_database(admin_dsn: str, name: str) -> Iterator[str]:
    """A scratch database only this test process uses (several sessions may run the suite on one
    PostgreSQL at once), dropped afterwards."""
    unique = f"{name}_{os.getpid()}"
    dsn = scratch_database(admin_dsn, unique)
    try:
        yield dsn
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{unique}" WITH (FORCE)')


def ddl(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


def running(dsn: str, fragment: str) -> int:
    """How many other sessions of the PostgreSQL server at ``dsn`` are running a statement that
    contains ``fragment``."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND state = 'active' AND pid <> pg_backend_pid()",
            (f"%{fragment}%",),
        ).fetchone()
    assert row is not None
    return int(row[0])


def duckdb_file(path: Path, *statements: str) -> Path:
    connection = duckdb.connect(str(path))
    try:
        for statement in statements:
            connection.execute(statement)
        connection.execute("CHECKPOINT")
    finally:
        connection.close()
    return path


def veil(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "veil", *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False,
        env={**os.environ, "COLUMNS": "250"},
    )


def write_config(directory: Path, config: dict[str, object]) -> Path:
    path = directory / "veil.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def rows(server: VeilServer, sql: str, user: str = "alice") -> list[tuple[object, ...]]:
    with psycopg.connect(server.dsn(user), autocommit=True) as connection:
        return connection.execute(sql).fetchall()


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> float:
    """Seconds until ``check()`` held; fails after ``timeout``."""
    started = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - started
        except psycopg.Error:
            pass
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.1)


def compile_java(source: Path, build: Path) -> tuple[str, Path, Path]:
    """A pgJDBC check program compiled into ``build``: (java, pgJDBC jar, class directory)."""
    java, javac = require_tool("java"), require_tool("javac")
    jar = require_file(JAR_CANDIDATES, "pgJDBC jar (apt package libpostgresql-jdbc-java)")
    compiled = subprocess.run([javac, "-d", str(build), "-cp", str(jar), str(source)],
                              capture_output=True, text=True, timeout=300, check=False)
    assert compiled.returncode == 0, compiled.stderr
    return java, jar, build
