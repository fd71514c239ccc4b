"""Large results are streamed: the server's memory stays flat while a client reads them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.conftest import VeilServer, base_config, start_server, stop_server

ROWS = 5_000_000
PADDING = 100  # bytes per row: ~500 MB if the server held the whole result
#: What a streaming server may grow by: a few batches in flight, DuckDB's working memory and what
#: the allocator keeps per thread (measured 100-155 MiB on the 2-core machine), far from the result.
MAX_GROWTH = 200 * 1024 * 1024


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def server_pid(server: VeilServer) -> int:
    for status in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = status.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in command and str(server.config_path).encode() in command:
            return int(status.parent.name)
    pytest.skip("cannot find the server process")


@pytest.fixture(scope="module")
def small_cache_server(tmp_path_factory: pytest.TempPathFactory, warehouse: Path):  # type: ignore[no-untyped-def]
    """A server whose result cache may keep at most 2 MiB per entry, so that any growth beyond
    that would be the stream itself being held in memory."""
    config = base_config(warehouse)
    config["cache"] = {"max_bytes": "16MiB"}
    process, server = start_server(tmp_path_factory.mktemp("streaming"), config)
    yield server
    stop_server(process)


def test_big_result_streams_with_flat_memory(small_cache_server: VeilServer) -> None:
    veil_server = small_cache_server
    pid = server_pid(veil_server)
    before = rss_bytes(pid)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes(pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    sql = (
        f"SELECT a.id, repeat('x', {PADDING}) AS pad FROM big a, (SELECT id FROM big LIMIT {ROWS // 200_000}) b"
    )
    rows = 0
    try:
        with psycopg.connect(veil_server.dsn()) as connection:
            for _ in connection.cursor().stream(sql):
                rows += 1
    finally:
        done.set()
        sampler.join()
    assert rows == ROWS
    assert peak - before < MAX_GROWTH, f"server memory grew by {(peak - before) / 2**20:.0f} MiB"
