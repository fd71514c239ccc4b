"""The listening socket: accepts clients and runs one :class:`Connection` task per client.

The configuration is read through a provider on every new connection, so a hot-reloaded
config (users, passwords, auth method, TLS files) applies to the next client without a restart.
Host and port are bound once, at :meth:`VeilServer.start`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

from veil import errcodes
from veil.api import Engine
from veil.config.models import TlsConfig, VeilConfig
from veil.proxy.cancel import CancelRegistry
from veil.proxy.connection import Connection
from veil.proxy.fastpath import ClientProtocol
from veil.proxy.throttle import LoginThrottle

log = logging.getLogger("veil.proxy")

_STREAM_LIMIT = 1024 * 1024

ConfigSource = VeilConfig | Callable[[], VeilConfig]


def _reason(exc: BaseException) -> str:
    """An OS or TLS error as one line (``[Errno 98] address already in use`` → the words)."""
    errno = getattr(exc, "errno", None)
    if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError) and errno:
        return os.strerror(errno).lower()
    return (getattr(exc, "reason", None) or str(exc) or type(exc).__name__).splitlines()[0]


def make_tls_context(tls: TlsConfig) -> tuple[ssl.SSLContext, str]:
    """A server TLS context from ``server.tls`` and the certificate's PEM text."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(tls.cert), str(tls.key))
    return context, Path(tls.cert).read_text()


class VeilServer:
    """PostgreSQL wire protocol server in front of an :class:`Engine`."""

    def __init__(
        self,
        config: ConfigSource,
        engine: Engine,
        *,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self._config = config
        self.engine = engine
        self.cancels = CancelRegistry()
        self.throttle = LoginThrottle()
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._tls_key: tuple[object, ...] | None = None
        self._tls: tuple[ssl.SSLContext | None, str | None] = (None, None)

    def current_config(self) -> VeilConfig:
        return self._config() if callable(self._config) else self._config

    def tls(self) -> tuple[ssl.SSLContext | None, str | None]:
        """The TLS context for the current config, rebuilt when the files change."""
        tls = self.current_config().server.tls
        if tls is None:
            return None, None
        try:
            key: tuple[object, ...] = (
                tls.cert,
                tls.key,
                os.stat(tls.cert).st_mtime_ns,
                os.stat(tls.key).st_mtime_ns,
            )
        except OSError as exc:
            if self._tls[0] is None:
                raise
            log.error("cannot read server.tls files (%s); keeping the previous certificate", exc)
            return self._tls
        if key != self._tls_key:
            try:
                self._tls = make_tls_context(tls)
                self._tls_key = key
            except (OSError, ssl.SSLError) as exc:
                if self._tls[0] is None:
                    raise
                log.error("cannot load server.tls (%s); keeping the previous certificate", exc)
        return self._tls

    @property
    def bound_port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def connection_count(self) -> int:
        return len(self._tasks)

    async def start(self) -> None:
        """Bind and listen. Fails early if the TLS certificate or key cannot be loaded."""
        if self._server is not None:
            return
        config = self.current_config().server
        try:
            self.tls()
        except (OSError, ssl.SSLError) as exc:
            raise errcodes.ConfigFileError(f"cannot load server.tls certificate or key: {_reason(exc)}") from None
        host = self._host if self._host is not None else config.host
        port = self._port if self._port is not None else config.port
        try:
            self._server = await asyncio.get_running_loop().create_server(
                self._protocol, host=host, port=port, reuse_address=True
            )
        except OSError as exc:
            raise errcodes.SystemError(f"cannot listen on {host}:{port}: {_reason(exc)}") from None

    async def serve_forever(self) -> None:
        await self.start()
        assert self._server is not None
        try:
            await self._server.serve_forever()
        except asyncio.CancelledError:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop listening and end every connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            try:
                await asyncio.wait_for(server.wait_closed(), 5)
            except TimeoutError:
                log.warning("some connections did not close within 5s")

    def _protocol(self) -> ClientProtocol:
        """What ``asyncio.start_server`` makes per client, with the fast path's protocol."""
        return ClientProtocol(asyncio.StreamReader(limit=_STREAM_LIMIT), self._accept)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            sock = writer.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await Connection(self, reader, writer).run()
        except asyncio.CancelledError:
            # Shutting down: the connection has cleaned up; asyncio would log a cancelled
            # client_connected_cb as an error.
            pass
        finally:
            self._tasks.discard(task)
