"""Session-wide fixtures: a test warehouse in DuckDB, its config, and a running `veil serve`.

The server runs as a real subprocess (`python -m veil serve -c ...`) on a free port, so every
client test goes through the same code path a user runs.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import yaml

from veil.proxy.auth import make_scram_verifier

# Fixtures that run a real server (a `veil serve`, Veil's wire server in a thread, PostgreSQL, Redis,
# the Snowflake emulator): a test using any of them, directly or through another fixture, is e2e.
E2E_FIXTURES = frozenset(
    {"veil_server", "postgres_dsn", "fakesnow", "conformance_server", "engine_servers", "pg", "redis_url"}
)
# A module that starts servers itself (`start_server(...)`, `veil serve` as a subprocess).
_STARTS_SERVER = re.compile(r'start_server\(|"serve"')


def _starts_server(path: Path, seen: dict[Path, bool]) -> bool:
    if path not in seen:
        seen[path] = bool(_STARTS_SERVER.search(path.read_text(encoding="utf-8")))
    return seen[path]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test ``clients`` (under tests/clients), ``e2e`` (a real server) or ``unit``, so
    ``pytest -m unit`` runs the fast in-process tests only."""
    clients = Path(__file__).parent / "clients"
    seen: dict[Path, bool] = {}
    for item in items:
        path = Path(str(item.path))
        if path.is_relative_to(clients):
            item.add_marker(pytest.mark.clients)
        elif E2E_FIXTURES.intersection(getattr(item, "fixturenames", ())) or _starts_server(path, seen):
            item.add_marker(pytest.mark.e2e)
        else:
            item.add_marker(pytest.mark.unit)


PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret", "root": "root-secret"}

WAREHOUSE_SQL = """
CREATE SCHEMA sales;
CREATE TABLE sales.orders (
    id BIGINT, customer VARCHAR, amount DECIMAL(12, 2), created TIMESTAMP, tags VARCHAR[]
);
INSERT INTO sales.orders VALUES
    (1, 'Ada', 12.50, TIMESTAMP '2024-01-02 03:04:05.123456', ['new', 'vip']),
    (2, 'Grace', 100.00, TIMESTAMP '2024-02-03 04:05:06', []),
    (3, 'Linus', NULL, NULL, NULL),
    (4, 'Zoë ünïcode', -7.25, TIMESTAMP '1999-12-31 23:59:59', ['a,b', 'quote"d']);
CREATE TABLE sales.customers AS
    SELECT i AS id, 'customer ' || i AS name, ['US','CA','DE'][1 + i % 3] AS country
    FROM range(1, 101) t(i);
CREATE TABLE sales.all_types (
    b BOOLEAN, i2 SMALLINT, i4 INTEGER, i8 BIGINT, f4 REAL, f8 DOUBLE, n DECIMAL(18, 4),
    t VARCHAR, bt BLOB, d DATE, tm TIME, ts TIMESTAMP, tstz TIMESTAMPTZ, iv INTERVAL, u UUID,
    j JSON, ai INTEGER[], atx VARCHAR[]
);
INSERT INTO sales.all_types VALUES
    (true, -32768, 2147483647, -9223372036854775807, 1.5, 0.1, 12345678901234.5678, 'hello',
     '\\x00\\xff'::BLOB, DATE '2024-02-29', TIME '13:14:15.5', TIMESTAMP '2024-02-29 13:14:15.5',
     TIMESTAMPTZ '2024-02-29 13:14:15.5+00', INTERVAL '1 year 2 months 3 days 04:05:06',
     'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": [1, 2]}', [1, NULL, 3], ['x', NULL, 'y z']),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL);
CREATE TABLE sales.big AS SELECT i AS id, i * 2 AS doubled, 'row ' || i AS label FROM range(200000) t(i);
CREATE SCHEMA hr;
CREATE TABLE hr.salaries (employee VARCHAR, salary DECIMAL(10, 2));
INSERT INTO hr.salaries VALUES ('Ada', 250000.00);
"""


@dataclass(frozen=True)
class VeilServer:
    host: str
    port: int
    config_path: Path
    warehouse: Path
    log_path: Path

    def dsn(self, user: str = "alice", password: str | None = None, **params: str) -> str:
        secret = PASSWORDS.get(user, "") if password is None else password
        extra = "".join(f"&{k}={v}" for k, v in params.items())
        return f"postgresql://{user}:{secret}@{self.host}:{self.port}/veil?sslmode=disable{extra}"

    def kwargs(self, user: str = "alice", password: str | None = None) -> dict[str, object]:
        return {
            "host": self.host,
            "port": self.port,
            "user": user,
            "password": PASSWORDS.get(user, "") if password is None else password,
            "dbname": "veil",
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(
    host: str, port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 60, name: str = "veil serve"
) -> None:
    """Return once ``process`` (a server started by a test) accepts connections on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not start listening within {timeout}s:\n{log.read_text()}")


def write_warehouse(path: Path) -> None:
    connection = duckdb.connect(str(path))
    try:
        for statement in WAREHOUSE_SQL.split(";"):
            if statement.strip():
                connection.execute(statement)
        connection.execute("CHECKPOINT")
    finally:
        connection.close()


def base_config(warehouse: Path) -> dict[str, object]:
    return {
        "server": {"host": "127.0.0.1", "port": 0, "search_path": '"$user", public, sales'},
        "connections": {"warehouse": {"type": "duckdb", "path": str(warehouse)}},
        "users": {
            "alice": {"password": make_scram_verifier(PASSWORDS["alice"]), "groups": ["Analytics"]},
            "bob": {"password": make_scram_verifier(PASSWORDS["bob"]), "groups": ["Support"]},
            "root": {"password": make_scram_verifier(PASSWORDS["root"]), "admin": True},
        },
        "policies": [
            {
                "name": "Analysts read sales",
                "subscription": {"tables": ["warehouse.sales.*"], "allow": {"groups": ["Analytics"]}},
            },
            {
                "name": "Support reads customers",
                "subscription": {"tables": ["warehouse.sales.customers"], "allow": {"groups": ["Support"]}},
            },
            {
                "name": "Admins read everything",
                "subscription": {"tables": ["*"], "allow": {"users": ["root"]}},
            },
        ],
    }


def start_server(directory: Path, config: dict[str, object]) -> tuple[subprocess.Popen[bytes], VeilServer]:
    port = free_port()
    config["server"] = {**config["server"], "port": port}  # type: ignore[dict-item]
    config_path = directory / "veil.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    log_path = directory / "veil.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "veil", "serve", "-c", str(config_path)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=directory,
    )
    wait_for_port("127.0.0.1", port, process, log_path)
    warehouse = Path(str(config["connections"].get("warehouse", {}).get("path", "")))  # type: ignore[attr-defined]
    return process, VeilServer("127.0.0.1", port, config_path, warehouse, log_path)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    write_warehouse(path)
    return path


@pytest.fixture(scope="session")
def veil_server(tmp_path_factory: pytest.TempPathFactory, warehouse: Path) -> Iterator[VeilServer]:
    directory = tmp_path_factory.mktemp("veil")
    process, server = start_server(directory, base_config(warehouse))
    try:
        yield server
    finally:
        stop_server(process)


def require_tool(name: str) -> str:
    """A system tool the test needs: skipped on a laptop without it, a failure in CI."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required in CI but is not installed")
        pytest.skip(f"{name} is not installed")
    return path


def _postgres_reachable(dsn: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


def _throwaway_cluster(
    directory: Path, settings: str = "", bin_dir: Path | None = None
) -> tuple[str, Callable[[], None]]:
    """Start a private PostgreSQL with pg_ctl (as the postgres user when running as root);
    ``settings`` are more server options (``-c max_connections=700``), ``bin_dir`` where initdb
    and pg_ctl are (default: the newest /usr/lib/postgresql/*/bin)."""
    binaries = [bin_dir] if bin_dir is not None else sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not binaries:
        raise RuntimeError("no PostgreSQL server binaries found for a throwaway cluster")
    bin_dir = binaries[-1]
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data = directory / "pgdata"
    directory.mkdir(parents=True, exist_ok=True)
    if prefix:
        shutil.chown(directory, "postgres")
    port = free_port()
    subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"], check=True, capture_output=True)
    subprocess.run(
        [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(directory / "pg.log"),
         "-o", f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 {settings}", "start"],
        check=True, capture_output=True,
    )

    def stop() -> None:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)

    return f"postgresql://postgres@127.0.0.1:{port}/postgres", stop


@pytest.fixture(scope="session")
def postgres_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """VEIL_TEST_POSTGRES if set, else the local server, else a throwaway pg_ctl cluster."""
    configured = os.environ.get("VEIL_TEST_POSTGRES")
    if configured:
        yield configured
        return
    for candidate in ("postgresql://postgres@127.0.0.1:5432/postgres", "postgresql://127.0.0.1:5432/postgres"):
        if _postgres_reachable(candidate):
            yield candidate
            return
    dsn, stop = _throwaway_cluster(tmp_path_factory.mktemp("postgres"))
    try:
        yield dsn
    finally:
        stop()


def postgres_connection(dsn: str, **extra: object) -> dict[str, object]:
    """A ``type: postgres`` entry of ``connections:`` for the database a DSN points at
    (any key, such as ``latency`` or ``user``, may be overridden through ``extra``)."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    entry: dict[str, object] = {
        "type": "postgres", "host": params.get("host", "127.0.0.1"), "port": int(params.get("port", 5432)),
        "database": params.get("dbname", "postgres"), "user": params.get("user", "postgres"),
    }
    if params.get("password"):
        entry["password"] = params["password"]
    return {**entry, **extra}


def scratch_database(admin_dsn: str, name: str) -> str:
    """(Re)create a database for one test module and return its DSN."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(admin_dsn)
    params["dbname"] = name
    return make_conninfo(**params)
