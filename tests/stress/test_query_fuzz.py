"""Differential SQL fuzzing: random typed SELECTs (tests/stress/query_fuzz.py) over the same data
in PostgreSQL (the oracle) and through Veil (a DuckDB source, a PostgreSQL source, and both at
once), in text, binary and prepared form; any difference no known class explains fails.

The statements come from fixed seeds; ``VEIL_FUZZ_STATEMENTS=20000`` runs more of them (spread
over the same seeds). A mismatch is matched against the known classes (tests/stress/fuzz_known.py)
by its signature (the kind of difference with its SQLSTATEs or type OIDs) and the constructs its
statement contains; an unmatched one fails, shown shrunk to a small reproduction.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stress.fuzz_known import KNOWN, KnownClass, classify, repro_statement, signature_matches
from tests.stress.fuzz_runner import Differ, FuzzEnv, Mismatch, start, statements

SEEDS = (11, 23, 37)
STATEMENTS = int(os.environ.get("VEIL_FUZZ_STATEMENTS", "135"))
SHRINK_BUDGET = float(os.environ.get("VEIL_FUZZ_SHRINK_SECONDS", "20"))


@pytest.fixture(scope="module")
def fuzz_env(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzEnv]:
    env = start(tmp_path_factory.mktemp("query_fuzz"), postgres_dsn, f"t{os.getpid()}")
    try:
        yield env
    finally:
        env.stop()


@pytest.fixture
def differ(fuzz_env: FuzzEnv) -> Iterator[Differ]:
    differ = Differ(fuzz_env.oracle_dsn, fuzz_env.veil_dsn())
    try:
        yield differ
    finally:
        differ.close()


def _describe(differ: Differ, mismatch: Mismatch, deadline: float) -> str:
    """A new mismatch, shrunk while the budget lasts (only to show it: classes are matched on
    the statement as generated, so the verdict never depends on the machine's speed)."""
    if time.monotonic() < deadline:
        mismatch = differ.shrink(mismatch, budget=min(10.0, deadline - time.monotonic()))
    return mismatch.describe() + "\n  constructs: " + ", ".join(sorted(mismatch.statement.tags()))


@pytest.mark.timeout(max(240, STATEMENTS // 2))
def test_veil_answers_as_postgres_does(differ: Differ) -> None:
    started = time.monotonic()
    per_seed = -(-STATEMENTS // len(SEEDS))
    mismatches: list[Mismatch] = []
    for seed in SEEDS:
        for statement, prepared, typed in statements(seed, per_seed):
            mismatches += [m for m in differ.run(statement, prepared, typed) if m.signature[0] != "refused"]
    known: Counter[str] = Counter()
    new: list[Mismatch] = []
    for mismatch in mismatches:
        name = classify(mismatch)
        if name is None:
            new.append(mismatch)
        else:
            known[name] += 1
    stats = differ.stats
    print(
        f"\n{stats.statements} statements ({stats.executions} executions) in {time.monotonic() - started:.1f}s; "
        f"{sum(stats.refusals.values())} refusals; known mismatches by class: {dict(known)}"
    )
    for key, count in stats.refusals.most_common(12):
        print(f"  refused {count:4d}: {key}")
    assert stats.statements >= STATEMENTS
    deadline = time.monotonic() + SHRINK_BUDGET
    assert not new, f"{len(new)} differences from PostgreSQL outside the known classes:\n\n" + "\n\n".join(
        _describe(differ, m, deadline) for m in new[:20]
    )


@pytest.mark.parametrize("known", KNOWN, ids=lambda k: k.name)
def test_known_class_still_differs(differ: Differ, known: object) -> None:
    """Each known class's reproduction still differs (a fixed class must leave the list)."""
    assert isinstance(known, KnownClass)
    statement = repro_statement(known.repro, known.params)
    found = differ.check(statement, known.modes[0], typed=known.typed)
    assert any(signature_matches(known.signature, m.signature) for m in found), (
        f"{known.name} no longer differs from PostgreSQL: remove it from tests/stress/fuzz_known.py "
        f"(found {[m.signature for m in found]})"
    )


def test_findings_document_lists_every_known_class() -> None:
    findings = (Path(__file__).parent / "FUZZ_FINDINGS.md").read_text(encoding="utf-8")
    assert [k.name for k in KNOWN if f"`{k.name}`" not in findings] == []
