"""Times one workload on PostgreSQL and on Veil, alternating the two so background load hits both.

With a floor statement (what Veil sends its source for the workload's statement, policies
applied), a third side runs that statement on PostgreSQL directly with the same client: no proxy
can be faster than its source answering what it is sent, so ``floor / PostgreSQL`` is the least
ratio any proxy could reach under those policies."""

from __future__ import annotations

import time
import traceback
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from benchmarks.report import Result
from benchmarks.workloads import Options, Run, Statement, Workload


def _summary(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


@dataclass
class Side:
    """One server's sessions and timings for a workload."""

    name: str
    dsn: str
    statement: Statement | None = None  # read this instead of the workload's own statement
    run: Run | None = None
    seconds: list[float] = field(default_factory=list)
    digest: Any = None
    error: str | None = None

    def open(self, stack: ExitStack, workload: Workload, options: Options) -> None:
        try:
            if self.statement is not None and workload.statement_session is not None:
                self.run = stack.enter_context(workload.statement_session(self.dsn, options, self.statement))
            else:
                self.run = stack.enter_context(workload.session(self.dsn, options))
        except Exception as error:  # noqa: BLE001 - reported in the table; the other side still runs
            traceback.print_exc()
            self.error = _summary(error)

    def time_once(self, budget_seconds: float) -> None:
        if self.run is None or self.error or sum(self.seconds) >= budget_seconds:
            return
        try:
            start = time.perf_counter()
            digest = self.run()
            self.seconds.append(time.perf_counter() - start)
            self.digest = digest
        except Exception as error:  # noqa: BLE001 - reported in the table; the other side still runs
            traceback.print_exc()
            self.error = _summary(error)


def compare(
    workload: Workload, postgres_dsn: str, veil_dsn: str, options: Options, floor: Statement | None = None
) -> Result:
    postgres, veil = Side("PostgreSQL", postgres_dsn), Side("Veil", veil_dsn)
    sides = [postgres, veil]
    if floor is not None and workload.statement_session is not None:
        sides.append(Side("PostgreSQL, Veil's statement", postgres_dsn, floor))
    stack = ExitStack()
    try:
        for side in sides:
            side.open(stack, workload, options)
        for repetition in range(options.repeat):
            # rotate who goes first, so background load and warm caches favour no side
            turn = repetition % len(sides)
            for side in sides[turn:] + sides[:turn]:
                side.time_once(options.budget_seconds)
    finally:
        try:
            stack.close()
        except Exception:  # noqa: BLE001 - a session that fails to close does not void its timings
            traceback.print_exc()
    errors = [f"{side.name}: {side.error}" for side in sides if side.error]
    match = all(side.seconds for side in sides) and all(side.digest == postgres.digest for side in sides)
    differing = next((side for side in sides[1:] if side.digest != postgres.digest), veil)
    return Result(
        workload.name,
        workload.description,
        workload.target_ratio,
        postgres.seconds,
        veil.seconds,
        match,
        "; ".join(errors) or None,
        None if match else _difference(postgres.digest, differing.digest, differing.name),
        sides[2].seconds if len(sides) > 2 else [],
    )


def _difference(postgres: Any, other: Any, name: str) -> str | None:
    if postgres is None or other is None:
        return None
    return f"PostgreSQL read {str(postgres)[:200]}; {name} read {str(other)[:200]}"
