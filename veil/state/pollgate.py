"""How often a server looks at a store another process may have written: at most once per
``interval`` (a tiny SQLite read on the hot path of planning), and by one thread at a time."""

from __future__ import annotations

import threading
import time


class PollGate:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def enter(self, force: bool = False) -> bool:
        """Whether to poll now; True holds the gate until :meth:`leave`. Without ``force`` it is
        False when the last poll is recent or another thread is polling (that one's answer will do)."""
        now = time.monotonic()
        if not force and now - self._checked < self.interval:
            return False
        if not self._lock.acquire(blocking=force):
            return False
        self._checked = now
        return True

    def leave(self) -> None:
        self._lock.release()

    def expire(self) -> None:
        """Let the next :meth:`enter` poll, as if the interval had passed."""
        self._checked = float("-inf")
