"""Revocation reaches sessions already open: identity is resolved per statement from the config in
force, and no cache keyed by a stale copy of a user can serve another session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import VeilServer, start_server, stop_server
from tests.security.reload_support import changed, masked_config, rewrite

RAW = {"Ada", "Grace", "Linus", "Zoë ünïcode"}
CUSTOMERS = "SELECT customer FROM sales.orders ORDER BY id"


@pytest.fixture
def served(tmp_path: Path, warehouse: Path) -> Iterator[tuple[VeilServer, dict[str, object]]]:
    config = masked_config(warehouse)
    config["users"]["alice"]["groups"] = ["Analytics", "Trusted"]  # type: ignore[index]
    process, server = start_server(tmp_path, config)
    try:
        yield server, config
    finally:
        stop_server(process)


def _revoke_trusted(config: dict[str, object]) -> None:
    config["users"]["alice"]["groups"] = ["Analytics"]  # type: ignore[index]


def test_group_removed_in_the_config_reaches_an_open_session_and_its_prepared_statement(
    served: tuple[VeilServer, dict[str, object]],
) -> None:
    server, config = served
    with psycopg.connect(server.dsn(), autocommit=True) as connection:
        assert {r[0] for r in connection.execute(CUSTOMERS, prepare=True).fetchall()} == RAW
        assert {r[0] for r in connection.execute(CUSTOMERS, prepare=True).fetchall()} == RAW  # now prepared
        rewrite(server, changed(config, _revoke_trusted))
        # The same session, the statement prepared before the reload, and a plain one: masked.
        prepared = [r[0] for r in connection.execute(CUSTOMERS, prepare=True).fetchall()]
        simple = [r[0] for r in connection.execute(CUSTOMERS, prepare=False).fetchall()]
        assert not set(prepared) & RAW and set(prepared) == {"***"}
        assert not set(simple) & RAW and set(simple) == {"***"}
        # Revoking the subscription's group hides the table itself in the open session.
        rewrite(server, changed(config, lambda c: c["users"]["alice"].update(groups=[])))  # type: ignore[index]
        with pytest.raises(psycopg.errors.UndefinedTable):
            connection.execute(CUSTOMERS, prepare=True)


def test_a_stale_session_cannot_leave_its_policy_to_new_sessions(
    served: tuple[VeilServer, dict[str, object]],
) -> None:
    """The reported bug: after a reload, a statement of a session opened before it planned with
    the old groups and cached that plan where new sessions of the same user found it."""
    server, config = served
    with psycopg.connect(server.dsn(), autocommit=True) as stale:
        assert {r[0] for r in stale.execute(CUSTOMERS).fetchall()} == RAW
        rewrite(server, changed(config, _revoke_trusted))
        assert {r[0] for r in stale.execute(CUSTOMERS).fetchall()} == {"***"}
        for _ in range(3):
            with psycopg.connect(server.dsn(), autocommit=True) as fresh:
                seen = {r[0] for r in fresh.execute(CUSTOMERS).fetchall()}
                assert not seen & RAW, "a new session saw names the reload masked"
            assert not {r[0] for r in stale.execute(CUSTOMERS).fetchall()} & RAW


def test_a_user_deleted_from_the_config_has_their_next_statement_refused(
    served: tuple[VeilServer, dict[str, object]],
) -> None:
    server, config = served
    with psycopg.connect(server.dsn(), autocommit=True) as connection:
        assert connection.execute("SELECT count(*) FROM sales.orders").fetchone() == (4,)
        rewrite(server, changed(config, lambda c: c["users"].pop("alice")))  # type: ignore[union-attr]
        with pytest.raises(psycopg.OperationalError) as refused:
            connection.execute("SELECT customer FROM sales.orders")
        assert refused.value.sqlstate == "28000"
        assert 'role "alice" does not exist' in str(refused.value)
        assert connection.closed or connection.broken
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.dsn())
