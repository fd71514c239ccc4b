"""The Snowflake source used directly (no server): placeholders, streaming, describe, errors,
discovery sampling; and the tag store's upgrade for source tags."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pyarrow as pa
import pytest

from tests.catalog.sources.conftest import Fakesnow
from tests.stress.tcpproxy import black_hole
from veil.catalog.assemble import veil_table
from veil.catalog.records import StoredColumn, StoredTable
from veil.catalog.sources.base import read_all
from veil.catalog.sources.snowflake.source import SnowflakeSource, to_pyformat
from veil.config.models import ConnectionConfig
from veil.discovery.sampling import sample_table
from veil.errors import VeilError
from veil.state.tagstore import TagStore

DATABASE = "VEIL_DIRECT"


@pytest.fixture(scope="module")
def source(fakesnow: Fakesnow) -> SnowflakeSource:
    fakesnow.run(
        DATABASE,
        "CREATE SCHEMA IF NOT EXISTS APP",
        "CREATE OR REPLACE TABLE APP.PEOPLE (ID NUMBER(9,0), EMAIL VARCHAR, NOTE VARCHAR)",
        "INSERT INTO APP.PEOPLE SELECT SEQ4(), 'user' || SEQ4() || '@example.com', 'note ' || SEQ4() "
        "FROM TABLE(GENERATOR(ROWCOUNT => 50000))",
    )
    config = ConnectionConfig.model_validate(Fakesnow(fakesnow.port).connection(DATABASE))
    source = SnowflakeSource("snow", config)
    yield source
    source.close()


def test_placeholders_become_pyformat_outside_literals() -> None:
    sql, params = to_pyformat("""SELECT $1, '$2 100%', "a$1%", $2 -- $1 %\n FROM t WHERE x LIKE '%' || $1""", ["a", 2])
    assert sql == """SELECT %(p1)s, '$2 100%%', "a$1%%", %(p2)s -- $1 %%\n FROM t WHERE x LIKE '%%' || %(p1)s"""
    assert params == {"p1": "a", "p2": 2}
    assert to_pyformat("SELECT '100%'", []) == ("SELECT '100%'", None)
    with pytest.raises(VeilError):
        to_pyformat("SELECT $3", [1])


def test_results_stream_in_batches_with_the_served_schema(source: SnowflakeSource) -> None:
    cursor = source.cursor()
    try:
        reader = cursor.execute('SELECT "ID", "EMAIL" FROM "APP"."PEOPLE" WHERE "ID" >= $1 ORDER BY "ID"', [10])
        assert reader.schema == pa.schema([pa.field("ID", pa.int64()), pa.field("EMAIL", pa.string())])
        total, first = 0, None
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            assert batch.schema == reader.schema
            first = first or batch.column(0)[0].as_py()
            total += batch.num_rows
        assert (total, first) == (49990, 10)
    finally:
        cursor.close()
    assert source.pool.idle == 1  # read to the end: the session is reused


def test_describe_reads_no_rows(source: SnowflakeSource) -> None:
    schema = source.describe('SELECT "ID", $1::NUMBER(5,2) AS P FROM "APP"."PEOPLE"', 1)
    assert [(f.name, f.type) for f in schema] == [("ID", pa.int64()), ("P", pa.decimal128(5, 2))]


@pytest.mark.parametrize(("sql", "sqlstate"), [
    ('SELECT * FROM "APP"."MISSING"', "42P01"),
    ('SELECT "NOPE" FROM "APP"."PEOPLE"', "42703"),
    ("SELEC 1", "42601"),
])
def test_errors_carry_postgres_sqlstates(source: SnowflakeSource, sql: str, sqlstate: str) -> None:
    cursor = source.cursor()
    try:
        with pytest.raises(VeilError) as raised:
            cursor.execute(sql)
    finally:
        cursor.close()
    assert raised.value.sqlstate == sqlstate
    assert "\n" not in raised.value.message and "Candidate bindings" not in raised.value.message


def test_wrong_port_is_an_actionable_connection_error(fakesnow: Fakesnow) -> None:
    from tests.conftest import free_port

    config = ConnectionConfig.model_validate(fakesnow.connection(DATABASE, port=free_port()))
    with closing(SnowflakeSource("broken", config)) as broken, pytest.raises(VeilError) as raised:
        broken.check()
    assert raised.value.sqlstate == "08001"
    assert "cannot connect to Snowflake" in raised.value.message
    assert "connections.broken.port" in (raised.value.hint or "")


def test_discovery_samples_with_snowflake_sample(source: SnowflakeSource) -> None:
    crawled = next(t for t in source.list_tables() if t.name == "PEOPLE")
    stored = StoredTable("snow", crawled.database, crawled.schema, crawled.name,
                         tuple(StoredColumn(c.name, c.arrow_type, c.nullable) for c in crawled.columns), "active")
    table = veil_table(source.config, stored)
    assert table.column("email") is not None and table.column("email").source_name == "EMAIL"
    sample = sample_table(source, table, rows=100)
    assert sample is not None
    # The sample reads the source's spelling and keys findings by it, as the tag store does.
    assert "SAMPLE (100 ROWS)" in sample.plan.sql and 'CAST("EMAIL" AS' in sample.plan.sql
    assert sample.data.num_rows == 100
    assert sample.data.column("EMAIL").to_pylist()[0].endswith("@example.com")


def test_tag_store_made_before_source_tags_accepts_them(tmp_path: Path) -> None:
    path = tmp_path / "tags.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "INSERT INTO meta VALUES ('version', 3);"
        "CREATE TABLE column_tags (table_key TEXT NOT NULL, column_name TEXT NOT NULL, tag TEXT NOT NULL,"
        " origin TEXT NOT NULL CHECK (origin IN ('config', 'discovery')), classifier TEXT, hit_rate REAL,"
        " updated_at TEXT NOT NULL, PRIMARY KEY (table_key, column_name, tag, origin));"
        "INSERT INTO column_tags VALUES ('w.s.t', 'c', 'Discovered.Entity.EmailAddress', 'discovery', 'EmailAddress',"
        " 1.0, '2024-01-01');"
    )
    old.close()
    with TagStore(path) as store:
        assert store.replace_source_tags("snow", {"snow.S.T": {"PHONE": ["PII.Phone"]}, "other.S.T": {"X": ["Y"]}})
        assert not store.replace_source_tags("snow", {"snow.S.T": {"PHONE": ["PII.Phone"]}})
        found = store.discovered().by_table
        assert found == {"w.s.t": {"c": ("Discovered.Entity.EmailAddress",)}, "snow.S.T": {"PHONE": ("PII.Phone",)}}
        assert store.replace_source_tags("snow", {})
        assert "snow.S.T" not in store.discovered().by_table


def _write_key(path: Path, passphrase: bytes) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    ))
    return path


def test_key_pair_login_reads_the_encrypted_key_and_a_wrong_passphrase_is_reported(
    fakesnow: Fakesnow, tmp_path: Path
) -> None:
    """fakesnow checks no credentials (it is an emulator): this shows that the connector loads and
    decrypts the configured key and signs its login with it, and what a bad key looks like."""
    key = _write_key(tmp_path / "rsa_key.p8", b"key-secret")
    settings = Fakesnow(fakesnow.port).connection(DATABASE)
    del settings["password"]
    good = SnowflakeSource("snow", ConnectionConfig.model_validate(
        {**settings, "private_key_file": str(key), "password": "key-secret"}))
    try:
        good.check()
        assert read_all(good, "SELECT 1 AS one").to_pylist() == [{"ONE": 1}]
    finally:
        good.close()
    bad = SnowflakeSource("snow", ConnectionConfig.model_validate(
        {**settings, "private_key_file": str(key), "password": "not-the-passphrase"}))
    with closing(bad), pytest.raises(VeilError) as raised:
        bad.check()
    assert raised.value.sqlstate.startswith(("08", "28"))
    assert "private_key_file" in (raised.value.hint or "")
    assert "key-secret" not in raised.value.message and "not-the-passphrase" not in raised.value.message
    missing = SnowflakeSource("snow", ConnectionConfig.model_validate(
        {**settings, "private_key_file": str(tmp_path / "absent.p8")}))
    with closing(missing), pytest.raises(VeilError) as raised:
        missing.check()
    assert "private_key_file" in (raised.value.hint or "")


def test_an_account_that_never_answers_fails_within_connect_timeout(fakesnow: Fakesnow) -> None:
    with black_hole() as port:
        config = ConnectionConfig.model_validate(fakesnow.connection(DATABASE, port=port, connect_timeout="2s"))
        with closing(SnowflakeSource("silent", config)) as silent:
            started = time.monotonic()
            with pytest.raises(VeilError) as raised:
                silent.check()
            assert time.monotonic() - started < 2 + 4  # slack for a loaded machine
    assert raised.value.sqlstate.startswith("08")
    assert "cannot connect to Snowflake" in raised.value.message
