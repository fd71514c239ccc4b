"""Deadline.wait: a source call's outcome, or 57014 at the deadline with the call left running."""

from __future__ import annotations

import asyncio
import threading

import pytest

from veil.errors import StatementTimeout
from veil.executor.deadline import Deadline
from veil.executor.workers import start_in_worker


def test_outcome_and_errors_of_a_call_in_time() -> None:
    async def scenario() -> None:
        deadline = Deadline.start("warehouse", 5.0)
        assert await deadline.wait(start_in_worker(lambda: 42), lambda: None) == 42
        with pytest.raises(ZeroDivisionError):
            await deadline.wait(start_in_worker(lambda: 1 // 0), lambda: None)
        assert not deadline.expired

    asyncio.run(scenario())


def test_timeout_interrupts_and_leaves_the_call_running() -> None:
    release = threading.Event()
    interrupted: list[bool] = []

    async def scenario() -> None:
        deadline = Deadline.start("warehouse", 0.1)
        call = start_in_worker(lambda: release.wait(5) and "late")
        with pytest.raises(StatementTimeout) as raised:
            await deadline.wait(call, lambda: interrupted.append(True))
        assert raised.value.sqlstate == "57014" and deadline.expired and interrupted == [True]
        assert not call.done(), "the blocked call is abandoned, not cancelled"
        release.set()
        assert await call == "late"

    asyncio.run(scenario())


def test_cancelling_the_waiter_never_cancels_the_call() -> None:
    release = threading.Event()

    async def scenario() -> None:
        deadline = Deadline.start("warehouse", 5.0)
        call = start_in_worker(lambda: release.wait(5) and "done")
        waiting = asyncio.ensure_future(deadline.wait(call, lambda: None))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert not call.cancelled()
        release.set()
        assert await call == "done"
        assert not deadline.expired

    asyncio.run(scenario())
