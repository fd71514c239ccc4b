"""Backend process ids and secret keys for CancelRequest.

Each connection gets a random, unique 31-bit "process id" and a random 32-bit secret (sent in
BackendKeyData). A CancelRequest arrives on a fresh connection carrying both; only when the
secret matches (compared in constant time) is the target's running statement interrupted.
"""

from __future__ import annotations

import hmac
import secrets
import struct
from typing import Protocol

_SECRET = struct.Struct("!i")


class Cancellable(Protocol):
    def cancel_running(self) -> None:
        """Interrupt the statement running now, if any."""
        ...


class CancelRegistry:
    """Live connections by backend pid."""

    def __init__(self) -> None:
        self._targets: dict[int, tuple[int, Cancellable]] = {}

    def __len__(self) -> int:
        return len(self._targets)

    def register(self, target: Cancellable) -> tuple[int, int]:
        """A fresh ``(pid, secret)`` for ``target``."""
        while True:
            pid = secrets.randbelow(2**31 - 1) + 1
            if pid not in self._targets:
                break
        secret = secrets.randbits(32) - 2**31
        self._targets[pid] = (secret, target)
        return pid, secret

    def unregister(self, pid: int) -> None:
        self._targets.pop(pid, None)

    def cancel(self, pid: int, secret: int) -> bool:
        """Cancel ``pid``'s running statement if ``secret`` matches; report whether it did."""
        entry = self._targets.get(pid)
        expected = entry[0] if entry else secrets.randbits(32) - 2**31
        matches = hmac.compare_digest(_SECRET.pack(expected), _SECRET.pack(secret))
        if entry is None or not matches:
            return False
        entry[1].cancel_running()
        return True
