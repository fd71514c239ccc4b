"""Login throttling: exponential back-off after failed logins, per user name and per address.

Each key (``user:<name>``, ``address:<ip>``) counts failures in a row. Once a key has more than
``free_failures`` of them it is locked for ``base_delay * 2**(extra failures - 1)`` seconds (at
most ``max_delay``) from its last failure. A login whose user or address is locked is refused
before any password is asked for, so a guesser gains nothing from trying during the lock, and the
right password right after thousands of wrong ones is refused too until the lock ends. Refused
attempts do not lengthen the lock. A successful login clears both keys; a key without failures
for ``forget_after`` seconds is forgotten. At most ``MAX_KEYS`` keys are remembered (the least
recently failed go first), so a flood of made-up user names cannot exhaust memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache

from veil.config.models import AuthThrottleConfig

MAX_KEYS = 100_000


@dataclass
class _Failures:
    count: int
    last: float


class LoginThrottle:
    """Failure counts of one server process (shared by all its connections)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._ttl = 900.0
        self._failures: TTLCache = TTLCache(MAX_KEYS, self._ttl, timer=clock)

    def _table(self, settings: AuthThrottleConfig) -> TTLCache:
        if settings.forget_after != self._ttl:  # a reload changed it: start afresh
            self._ttl = settings.forget_after
            self._failures = TTLCache(MAX_KEYS, max(self._ttl, 0.001), timer=self._clock)
        return self._failures

    @staticmethod
    def _keys(user: str, address: str) -> tuple[str, ...]:
        return (f"user:{user}", f"address:{address}") if address else (f"user:{user}",)

    def delay(self, settings: AuthThrottleConfig, failures: int) -> float:
        extra = failures - settings.free_failures
        if extra <= 0:
            return 0.0
        return min(settings.max_delay, settings.base_delay * 2.0 ** min(extra - 1, 62))

    def wait(self, settings: AuthThrottleConfig, user: str, address: str) -> float:
        """Seconds until this user and address may try again (0: now)."""
        if not settings.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            table = self._table(settings)
            entries = [table.get(k) for k in self._keys(user, address)]
        return max(
            (e.last + self.delay(settings, e.count) - now for e in entries if e is not None), default=0.0
        )

    def failed(self, settings: AuthThrottleConfig, user: str, address: str) -> None:
        if not settings.enabled:
            return
        now = self._clock()
        with self._lock:
            table = self._table(settings)
            for key in self._keys(user, address):
                entry = table.get(key)
                table[key] = _Failures(entry.count + 1 if entry else 1, now)

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            for key in self._keys(user, address):
                self._failures.pop(key, None)
