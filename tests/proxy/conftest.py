"""Fixtures for the wire front end: in-process servers over a fake engine, TLS material.

The in-process server runs on its own event loop in a background thread, so both blocking
drivers (psycopg2, psql) and asyncio clients on the test loop can talk to it.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.proxy.fake_engine import FakeEngine
from veil.config.models import VeilConfig
from veil.proxy.auth import make_md5_hash, make_scram_verifier
from veil.proxy.server import VeilServer

FAKE_PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "root": "root-pw"}


def fake_users() -> dict[str, object]:
    return {
        "alice": {"password": make_scram_verifier(FAKE_PASSWORDS["alice"])},
        "bob": {"password": make_md5_hash("bob", FAKE_PASSWORDS["bob"])},
        "carol": {},
        "root": {"password": make_scram_verifier(FAKE_PASSWORDS["root"]), "admin": True},
    }


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop, as ``veil serve`` uses, when it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class ServerThread:
    """A :class:`VeilServer` on a private event loop in a daemon thread."""

    def __init__(self, config: VeilConfig | Callable[[], VeilConfig], engine: object) -> None:
        self.loop = _new_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = VeilServer(config, engine, port=0)  # type: ignore[arg-type]
        self.engine: Any = engine
        self.port = 0

    def call(self, coroutine, timeout: float = 30):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def start(self) -> ServerThread:
        self.thread.start()
        self.call(self.server.start())
        self.port = self.server.bound_port
        return self

    def stop(self) -> None:
        self.call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate for localhost, made with the openssl CLI."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "server.crt", directory / "server.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ],
        check=True,
        capture_output=True,
    )
    key.chmod(0o600)
    return TlsFiles(cert, key)


FakeServerFactory = Callable[..., ServerThread]


@pytest.fixture(scope="session")
def fake_servers(tls_files: TlsFiles) -> Iterator[FakeServerFactory]:
    """``fake_servers(auth="md5", tls=True, max_message_bytes=...)``: one server per setting."""
    started: dict[tuple[object, ...], ServerThread] = {}

    def get(auth: str = "scram-sha-256", tls: bool = False, **server: object) -> ServerThread:
        key = (auth, tls, tuple(sorted(server.items())))
        if key not in started:
            settings: dict[str, object] = {"auth": auth, "port": 0, **server}
            if tls:
                settings["tls"] = {"cert": str(tls_files.cert), "key": str(tls_files.key)}
            config = VeilConfig.model_validate({"server": settings, "users": fake_users()})
            started[key] = ServerThread(config, FakeEngine()).start()
        return started[key]

    yield get
    for server in started.values():
        server.stop()


@pytest.fixture(scope="session")
def fake(fake_servers: FakeServerFactory) -> ServerThread:
    """The default in-process server: SCRAM auth, no TLS, fake engine."""
    return fake_servers()


EngineServerFactory = Callable[..., ServerThread]


@pytest.fixture(scope="session")
def engine_servers(tls_files: TlsFiles, warehouse: Path) -> Iterator[EngineServerFactory]:
    """In-process servers over the real :class:`QueryEngine` and the test warehouse.

    ``engine_servers(auth="md5", tls=True)``; users and passwords are those of
    ``tests/conftest.py`` (``PASSWORDS``), except that bob's is stored as an md5 hash here, to
    exercise md5 authentication.
    """
    from tests.conftest import PASSWORDS, base_config
    from veil.engine.engine import QueryEngine

    started: dict[tuple[object, ...], ServerThread] = {}

    def get(auth: str = "scram-sha-256", tls: bool = False) -> ServerThread:
        key = (auth, tls)
        if key not in started:
            raw = base_config(warehouse)
            server: dict[str, object] = {**raw["server"], "auth": auth}  # type: ignore[dict-item]
            if tls:
                server["tls"] = {"cert": str(tls_files.cert), "key": str(tls_files.key)}
            raw["server"] = server
            raw["users"]["bob"]["password"] = make_md5_hash("bob", PASSWORDS["bob"])  # type: ignore[index]
            config = VeilConfig.model_validate(raw)
            started[key] = ServerThread(config, QueryEngine(config)).start()
        return started[key]

    yield get
    for server in started.values():
        server.stop()
        server.engine.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def veil(engine_servers: EngineServerFactory) -> ServerThread:
    """The default in-process server over the real engine (SCRAM, no TLS)."""
    return engine_servers()
