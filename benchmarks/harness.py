"""Times one workload on PostgreSQL and on Veil, alternating the two so background load hits both."""

from __future__ import annotations

import time
import traceback
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from benchmarks.report import Result
from benchmarks.workloads import Options, Run, Workload


def _summary(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


@dataclass
class Side:
    """One server's sessions and timings for a workload."""

    name: str
    dsn: str
    run: Run | None = None
    seconds: list[float] = field(default_factory=list)
    digest: Any = None
    error: str | None = None

    def open(self, stack: ExitStack, workload: Workload, options: Options) -> None:
        try:
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


def compare(workload: Workload, postgres_dsn: str, veil_dsn: str, options: Options) -> Result:
    postgres, veil = Side("PostgreSQL", postgres_dsn), Side("Veil", veil_dsn)
    stack = ExitStack()
    try:
        postgres.open(stack, workload, options)
        veil.open(stack, workload, options)
        for repetition in range(options.repeat):
            for side in (postgres, veil) if repetition % 2 == 0 else (veil, postgres):
                side.time_once(options.budget_seconds)
    finally:
        try:
            stack.close()
        except Exception:  # noqa: BLE001 - a session that fails to close does not void its timings
            traceback.print_exc()
    errors = [f"{side.name}: {side.error}" for side in (postgres, veil) if side.error]
    match = bool(postgres.seconds and veil.seconds) and postgres.digest == veil.digest
    return Result(
        workload.name,
        workload.description,
        workload.target_ratio,
        postgres.seconds,
        veil.seconds,
        match,
        "; ".join(errors) or None,
        None if match else _difference(postgres.digest, veil.digest),
    )


def _difference(postgres: Any, veil: Any) -> str | None:
    if postgres is None or veil is None:
        return None
    return f"PostgreSQL read {str(postgres)[:200]}; Veil read {str(veil)[:200]}"
