"""The memory budget's accounting: immediate grants, a bounded first-come queue, 53200."""

from __future__ import annotations

import asyncio
import platform

import pytest

from veil.executor import membudget
from veil.executor.membudget import MemoryBudget, OutOfMemory, default_max_memory, machine_memory, trim_allocator


def test_default_is_a_quarter_of_ram() -> None:
    assert default_max_memory() == int(machine_memory() * 0.25)
    assert default_max_memory() > 0


def test_reserve_release_and_waiters_in_order() -> None:
    async def scenario() -> list[str]:
        budget = MemoryBudget(limit=100, wait=5)
        await budget.reserve(60)
        assert not budget.try_reserve(50)
        order: list[str] = []

        async def waiter(name: str, nbytes: int) -> None:
            await budget.reserve(nbytes)
            order.append(name)

        first = asyncio.create_task(waiter("first", 50))
        await asyncio.sleep(0)
        second = asyncio.create_task(waiter("second", 10))  # fits, but queues behind `first`
        await asyncio.sleep(0.01)
        assert order == []
        assert not budget.try_reserve(1), "try_reserve must not overtake the queue"
        budget.release(60)
        await asyncio.gather(first, second)
        assert budget.used == 60 and budget.peak == 60
        budget.release(60)
        assert budget.used == 0
        return order

    assert asyncio.run(scenario()) == ["first", "second"]


def test_wait_is_bounded_and_names_the_setting() -> None:
    async def scenario() -> None:
        budget = MemoryBudget(limit=100, wait=0.05)
        await budget.reserve(90)
        with pytest.raises(OutOfMemory) as failure:
            await budget.reserve(20)
        assert failure.value.sqlstate == "53200"
        assert "server.max_memory" in failure.value.message
        with pytest.raises(OutOfMemory):
            await budget.reserve(101)  # can never fit: no wait
        assert budget.used == 90 and not budget._waiters

    asyncio.run(scenario())


def test_cancelled_waiter_leaves_nothing_reserved() -> None:
    async def scenario() -> None:
        budget = MemoryBudget(limit=100, wait=5)
        await budget.reserve(100)
        task = asyncio.create_task(budget.reserve(50))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        budget.release(100)
        assert budget.used == 0 and not budget._waiters

    asyncio.run(scenario())


def test_trim_allocator_runs_on_glibc() -> None:
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    assert trim_allocator() is True


@pytest.mark.skipif(trim_allocator() is False, reason="malloc_trim is glibc's")
def test_trim_waits_until_the_budget_stays_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The allocator is trimmed TRIM_DELAY after the last release, not while statements keep
    coming: one timer, pushed back by every release that leaves the budget idle again."""
    monkeypatch.setattr(membudget, "TRIM_DELAY", 0.2)
    monkeypatch.setattr(membudget, "TRIM_AFTER_BYTES", 100)

    async def scenario() -> None:
        budget = MemoryBudget(limit=1000)
        for _ in range(6):  # a burst of statements, 0.1 s apart: never idle for 0.2 s
            assert budget.try_reserve(60)
            budget.release(60)
            await asyncio.sleep(0.1)
        assert budget.trims == 0
        assert budget.try_reserve(60)
        await asyncio.sleep(0.3)
        assert budget.trims == 0, "a budget in use is not trimmed"
        budget.release(60)
        await asyncio.sleep(0.35)
        assert budget.trims == 1
        await asyncio.sleep(0.3)
        assert budget.trims == 1, "nothing reserved since: no second trim"

    asyncio.run(scenario())
