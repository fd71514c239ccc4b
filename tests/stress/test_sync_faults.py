"""Object sync and hot reload with a source that stops answering: ``far`` reaches its database
through a TCP proxy the test stalls (connections stay open, nothing moves). Its sync hangs in the
driver; the other connection's interval sync and a config reload must complete in time anyway,
and ``far`` comes back once the proxy flows again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict

from tests.catalog.support import ddl, duckdb_file, eventually, private_database, rows
from tests.config.support import users_and_policies
from tests.conftest import VeilServer, postgres_connection, start_server, stop_server
from tests.stress.tcpproxy import ProxyProcess, TcpProxy
from veil.catalog.registry import open_source
from veil.catalog.sync import bounded_crawl
from veil.config.models import VeilConfig

# far's connect timeout is long on purpose: before sync steps ran independently, a reload waited
# for it (and interval sync of every connection waited behind far's stuck crawl for ever)
FAR_CONNECT_TIMEOUT = 20
IN_TIME = 10.0  # a sync tick is 1 s; the rest is scheduling slack on a loaded 2-core machine


@dataclass
class Stalled:
    server: VeilServer
    near: str
    proxy: TcpProxy
    config: dict[str, Any]
    directory: Path


@pytest.fixture
def stalled(postgres_dsn: str, tmp_path: Path) -> Iterator[Stalled]:
    with private_database(postgres_dsn, "veil_sync_near") as near, private_database(postgres_dsn, "veil_sync_far") as far:
        ddl(near, "CREATE SCHEMA near", "CREATE TABLE near.items AS SELECT i AS id FROM generate_series(1, 3) i")
        ddl(far, "CREATE SCHEMA far", "CREATE TABLE far.items AS SELECT i AS id FROM generate_series(1, 5) i")
        params = conninfo_to_dict(far)
        proxy = TcpProxy((str(params.get("host", "127.0.0.1")), int(params.get("port", 5432)))).start()
        every_second = {"interval": "1s"}
        config: dict[str, Any] = {
            "server": {"host": "127.0.0.1", "port": 0},
            "connections": {
                "near": postgres_connection(near, sync=every_second),
                "far": postgres_connection(far, host="127.0.0.1", port=proxy.port, sync=every_second,
                                           connect_timeout=f"{FAR_CONNECT_TIMEOUT}s", statement_timeout="3s"),
            },
            "cache": {"default_latency": 0},
            **users_and_policies(),
        }
        process, server = start_server(tmp_path, config)
        try:
            yield Stalled(server, near, proxy, config, tmp_path)
        finally:
            stop_server(process)
            proxy.close()


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_a_silent_source_delays_neither_the_other_sources_sync_nor_a_reload(stalled: Stalled) -> None:
    server = stalled.server
    assert rows(server, "SELECT count(*) FROM far.items") == [(5,)]  # far's pool holds a live connection
    stalled.proxy.stall()
    time.sleep(2.5)  # far's interval sync is now blocked inside the driver
    ddl(stalled.near, "CREATE TABLE near.fresh AS SELECT 7 AS n")
    assert eventually(lambda: rows(server, "SELECT n FROM near.fresh") == [(7,)], timeout=IN_TIME) < IN_TIME

    # a reload adding a connection: served in time although far still does not answer
    lake = duckdb_file(stalled.directory / "local.duckdb", "CREATE SCHEMA lake", "CREATE TABLE lake.events AS SELECT 42 AS n")
    reloaded = yaml.safe_load(yaml.safe_dump(stalled.config))
    reloaded["connections"]["lake"] = {"type": "duckdb", "path": str(lake)}
    server.config_path.write_text(yaml.safe_dump(reloaded), encoding="utf-8")
    assert eventually(lambda: rows(server, "SELECT n FROM lake.events") == [(42,)], timeout=IN_TIME) < IN_TIME
    assert rows(server, "SELECT count(*) FROM near.items") == [(3,)]

    stalled.proxy.resume()
    eventually(lambda: rows(server, "SELECT count(*) FROM far.items") == [(5,)], timeout=30)
    log = server.log_path.read_text()
    assert "Traceback" not in log, log[-4000:]


@pytest.mark.timeout(90)
def test_a_crawl_of_a_silent_source_is_given_up_and_not_repeated_while_blocked(postgres_dsn: str, tmp_path: Path) -> None:
    with private_database(postgres_dsn, "veil_sync_crawl") as far:
        ddl(far, "CREATE SCHEMA far", "CREATE TABLE far.items (id int)")
        params = conninfo_to_dict(far)
        proxy = ProxyProcess((str(params.get("host", "127.0.0.1")), int(params.get("port", 5432))))
        connection = postgres_connection(far, host="127.0.0.1", port=proxy.port, connect_timeout="3s", statement_timeout="3s")
        config = VeilConfig.model_validate({"state_dir": str(tmp_path), "connections": {"far": connection}})
        source = open_source("far", config.connections["far"])
        try:
            first = bounded_crawl(config, "far", source)
            assert first.error is None and [t.name for t in first.found] == ["items"], first.error
            proxy.stall()  # the pooled connection stays open and nothing moves
            started = time.monotonic()
            given_up = bounded_crawl(config, "far", source)
            assert 6.0 <= time.monotonic() - started < 6.0 + IN_TIME
            assert given_up.error is not None and given_up.error.sqlstate == "08006"
            assert "no answer within 6 s" in given_up.error.message
            started = time.monotonic()
            again = bounded_crawl(config, "far", source)  # the first one is still blocked: no second thread
            assert time.monotonic() - started < 1.0
            assert again.error is not None and "previous sync has not returned" in again.error.message
            proxy.resume()
            eventually(lambda: bounded_crawl(config, "far", source).error is None, timeout=IN_TIME)
        finally:
            proxy.close()
            source.close()
