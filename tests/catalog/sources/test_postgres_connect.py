"""A PostgreSQL source whose server does not answer: describing a statement (libpq, not ADBC)
fails with SQLSTATE 08006 and libpq's own reason, never a Python error."""

from __future__ import annotations

import pytest

from tests.conftest import free_port
from veil.catalog.sources.postgres.source import PostgresSource
from veil.config.models import ConnectionConfig
from veil.errors import VeilError


def test_describe_against_a_closed_port_is_a_connection_error() -> None:
    port = free_port()  # bound and released: nothing listens there
    config = ConnectionConfig.model_validate(
        {"type": "postgres", "host": "127.0.0.1", "port": port, "database": "postgres", "user": "postgres"}
    )
    source = PostgresSource("pg", config)
    try:
        with pytest.raises(VeilError) as raised:
            source.describe("SELECT 1 AS one", 0)
    finally:
        source.close()
    assert raised.value.sqlstate == "08006"
    assert 'connection "pg": cannot connect to PostgreSQL' in raised.value.message
    assert str(port) in raised.value.message  # libpq's reason, decoded once
