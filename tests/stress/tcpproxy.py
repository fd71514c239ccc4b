"""A TCP proxy a test controls, standing between Veil and a real PostgreSQL: it forwards, then on
request stops forwarding (connections stay open, nothing moves: a source gone silent), or stops
listening and drops every connection (a source that refuses connections). Also a black hole: a
listener that accepts connections and never answers."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class TcpProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.flowing = threading.Event()
        self.flowing.set()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.port = 0

    def start(self) -> TcpProxy:
        listener = socket.create_server(("127.0.0.1", self.port))
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="tcpproxy-accept").start()
        return self

    def stall(self) -> None:
        """Stop forwarding: every byte in flight stays where it is."""
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    def refuse(self) -> None:
        """Stop listening and drop every connection: new connections are refused."""
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)  # shutdown first: wakes the thread blocked in accept()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)

    def close(self) -> None:
        self.flowing.set()
        self.refuse()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True, name="tcpproxy-pump").start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(16384)
                if not data:
                    break
                self.flowing.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(sink)
            _close(source)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextmanager
def black_hole() -> Iterator[int]:
    """A port that accepts TCP connections and never sends a byte."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True, name="black-hole").start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        _close(listener)
        for sock in accepted:
            _close(sock)


class ProxyProcess:
    """A :class:`TcpProxy` in a process of its own, for a test that drives a driver holding the
    GIL while it connects (ADBC): a proxy thread in the test's own process could not forward."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.stress.tcpproxy", target[0], str(target[1])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self._process.stdout is not None
        self.port = int(self._process.stdout.readline())

    def _tell(self, command: str) -> None:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(command + "\n")
        self._process.stdin.flush()
        assert self._process.stdout.readline().strip() == command

    def stall(self) -> None:
        self._tell("stall")

    def resume(self) -> None:
        self._tell("resume")

    def close(self) -> None:
        self._process.kill()
        self._process.wait(timeout=10)


def _serve(host: str, port: str) -> None:
    proxy = TcpProxy((host, int(port))).start()
    print(proxy.port, flush=True)
    for line in sys.stdin:
        getattr(proxy, line.strip())()
        print(line.strip(), flush=True)


if __name__ == "__main__":
    _serve(*sys.argv[1:3])
