"""A fakesnow server (the Snowflake emulator) for Snowflake source tests.

fakesnow pins its own sqlglot and DuckDB, so it runs from its own venv (``make test`` builds
``.venv-fakesnow`` and exports ``VEIL_FAKESNOW``) as a subprocess on a free port. It is started
through ``fakesnow_server.py``, which fixes fakesnow's NULL timestamps (see that file). Without
the emulator the tests are skipped, except in CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, stop_server, wait_for_port

REPO = Path(__file__).resolve().parents[3]
SERVER_SCRIPT = Path(__file__).with_name("fakesnow_server.py")


@dataclass(frozen=True)
class Fakesnow:
    port: int

    def connection(self, database: str, **overrides: object) -> dict[str, object]:
        """A ``type: snowflake`` entry of ``connections:`` pointing at the emulator."""
        return {
            "type": "snowflake", "account": "fakesnow", "user": "fake", "password": "snow",
            "database": database, "warehouse": "WH", "host": "localhost", "port": self.port,
            "protocol": "http", **overrides,
        }

    def connect(self, database: str) -> Any:
        """A connector session (the real snowflake-connector-python) for setting up data."""
        import snowflake.connector

        return snowflake.connector.connect(
            user="fake", password="snow", account="fakesnow", host="localhost", port=self.port,
            protocol="http", database=database, schema="PUBLIC",
            session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False}, login_timeout=10,
        )

    def run(self, database: str, *statements: str) -> None:
        connection = self.connect(database)
        try:
            cursor = connection.cursor()
            for statement in statements:
                cursor.execute(statement)
        finally:
            connection.close()


def _fakesnow_python() -> Path:
    binary = os.environ.get("VEIL_FAKESNOW") or str(REPO / ".venv-fakesnow" / "bin" / "fakesnow")
    python = Path(binary).with_name("python")
    if not Path(binary).exists() or not python.exists():
        message = f"fakesnow is not installed at {binary} (run `make test`, or set VEIL_FAKESNOW)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return python


@pytest.fixture(scope="session")
def fakesnow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fakesnow]:
    python = _fakesnow_python()
    port = free_port()
    log_path = tmp_path_factory.mktemp("fakesnow") / "fakesnow.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(python), str(SERVER_SCRIPT), str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port, process, log_path, name="fakesnow")
        yield Fakesnow(port)
    finally:
        stop_server(process)
