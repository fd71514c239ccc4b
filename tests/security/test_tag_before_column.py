"""A tag on a column that does not exist yet is reported, kept, and masks the column the moment
object sync finds it (once approved: until then the "New Column Added" policy hides it)."""

from __future__ import annotations

from pathlib import Path

from tests.catalog.support import (
    ddl,
    eventually,
    private_database,
    rows,
    veil,
)
from tests.config.support import users_and_policies
from tests.conftest import postgres_connection, start_server, stop_server


def test_a_tag_waits_for_its_column_and_masks_it_when_it_appears(postgres_dsn: str, tmp_path: Path) -> None:
    with private_database(postgres_dsn, "veil_security_tag_later") as dsn:
        ddl(dsn, "CREATE SCHEMA app", "CREATE TABLE app.people (id int)", "INSERT INTO app.people VALUES (1)")
        config = {
            "server": {"host": "127.0.0.1", "port": 0},
            "connections": {"pg": postgres_connection(dsn, population={"schemas": ["app"]})},
            "tables": {"pg.app.people": {"tags": {"email": ["PII.Email"]}}},
            **users_and_policies(),
        }
        config["policies"] = [*config["policies"], {"name": "Hide e-mails", "mask": {"column_tags": ["PII"], "with": "constant", "value": "***"}}]
        process, server = start_server(tmp_path, config)
        try:
            problems = rows(server, "SELECT path, suggestion FROM veil.config_problems", "root")
            assert ("tables.pg.app.people.tags.email", None) in problems
            ddl(dsn, "ALTER TABLE app.people ADD COLUMN email text", "UPDATE app.people SET email = 'ada@example.com'")
            assert ("column_added", "pg.app.people.email") in {
                (k, o) for k, o, _ in rows(server, "SELECT * FROM veil.sync('pg')", "root")
            }
            assert rows(server, "SELECT id, email FROM app.people") == [(1, None)]
            assert veil("approve", "-c", str(server.config_path), "pg.app.people.email").returncode == 0
            eventually(lambda: rows(server, "SELECT id, email FROM app.people") == [(1, "***")])
            seen = {r[0] for r in rows(server, "SELECT email FROM app.people")}
            assert "ada@example.com" not in seen
            problems = rows(server, "SELECT path FROM veil.config_problems", "root")
            assert ("tables.pg.app.people.tags.email",) not in problems
        finally:
            stop_server(process)
