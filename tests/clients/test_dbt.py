"""`dbt docs generate` (dbt-postgres) against `veil serve` with a read-only profile: dbt's
postgres catalog macros (pg_class, pg_attribute, pg_is_other_temp_schema, format_type...) must
fill catalog.json with every column of the declared sources.

dbt-core pins sqlparse < 0.6 while pgcli (also in the test extra) needs 0.6, so dbt lives in
its own virtualenv built by ``make test`` (.venv-dbt, like .venv-fakesnow); VEIL_DBT names its
``dbt`` executable.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml

from tests.clients.conftest import MASKED_USER, client_env
from tests.clients.support import require_file
from tests.conftest import PASSWORDS, VeilServer

REPOSITORY = Path(__file__).resolve().parents[2]


def _dbt() -> Path:
    configured = os.environ.get("VEIL_DBT")
    candidates = [Path(configured)] if configured else []
    candidates.append(REPOSITORY / ".venv-dbt" / "bin" / "dbt")
    return require_file(candidates, "dbt with dbt-postgres (run `make .venv-dbt/bin/dbt`)")


def _project(directory: Path, server: VeilServer) -> None:
    (directory / "models").mkdir()
    (directory / "dbt_project.yml").write_text(yaml.safe_dump({
        "name": "veil_conformance", "version": "1.0", "config-version": 2, "profile": "veil",
        "model-paths": ["models"],
    }))
    (directory / "models" / "sources.yml").write_text(yaml.safe_dump({
        "version": 2,
        "sources": [{"name": "sales", "schema": "sales",
                     "tables": [{"name": "orders"}, {"name": "customers"}, {"name": "all_types"}]}],
    }))
    (directory / "profiles.yml").write_text(yaml.safe_dump({"veil": {"target": "read_only", "outputs": {
        "read_only": {"type": "postgres", "host": server.host, "port": server.port, "user": MASKED_USER,
                      "password": PASSWORDS[MASKED_USER], "dbname": "veil", "schema": "sales",
                      "threads": 1, "sslmode": "disable", "connect_timeout": 30},
    }}}))


def test_docs_generate_writes_every_source_column(conformance_server: VeilServer, tmp_path: Path) -> None:
    dbt = _dbt()
    _project(tmp_path, conformance_server)
    ran = subprocess.run(
        [str(dbt), "docs", "generate", "--profiles-dir", str(tmp_path), "--project-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
        env={**client_env(conformance_server, MASKED_USER), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
    catalog = json.loads((tmp_path / "target" / "catalog.json").read_text())
    assert catalog.get("errors") is None
    sources = {key.rsplit(".", 1)[1]: value for key, value in catalog["sources"].items()}
    assert list(sources["orders"]["columns"]) == ["id", "customer", "amount", "created", "tags"]
    assert list(sources["customers"]["columns"]) == ["id", "name", "country"]
    assert sources["orders"]["columns"]["amount"]["type"] == "numeric(12,2)"
    assert sources["orders"]["metadata"]["type"] == "BASE TABLE"
    assert len(sources["all_types"]["columns"]) == 18
