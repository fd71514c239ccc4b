"""The login back-off schedule, on a clock the test advances (no waiting)."""

from __future__ import annotations

from veil.config.models import AuthThrottleConfig
from veil.proxy.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_back_off_doubles_after_the_free_failures_and_is_capped() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    settings = AuthThrottleConfig(free_failures=2, base_delay=1.0, max_delay=8.0)
    waits = []
    for _ in range(7):
        throttle.failed(settings, "alice", "10.0.0.1")
        waits.append(throttle.wait(settings, "alice", "10.0.0.1"))
    assert waits == [0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 8.0]
    # Either key holds the login back: the user from another address, another user from here.
    assert throttle.wait(settings, "alice", "10.0.0.2") == 8.0
    assert throttle.wait(settings, "bob", "10.0.0.1") == 8.0
    assert throttle.wait(settings, "bob", "10.0.0.2") == 0.0
    clock.now += 8.0
    assert throttle.wait(settings, "alice", "10.0.0.1") <= 0.0
    throttle.succeeded("alice", "10.0.0.1")
    throttle.failed(settings, "alice", "10.0.0.1")
    assert throttle.wait(settings, "alice", "10.0.0.1") == 0.0


def test_failures_are_forgotten_and_disabled_throttle_counts_nothing() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    settings = AuthThrottleConfig(free_failures=0, base_delay=1.0, forget_after=60.0)
    throttle.failed(settings, "alice", "")
    assert throttle.wait(settings, "alice", "") == 1.0
    clock.now += 61.0
    throttle.failed(settings, "alice", "")
    assert throttle.wait(settings, "alice", "") == 1.0  # the count started afresh
    off = AuthThrottleConfig(enabled=False)
    for _ in range(10):
        throttle.failed(off, "bob", "")
    assert throttle.wait(off, "bob", "") == 0.0
