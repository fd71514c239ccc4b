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


# One statement per class the fuzzer found and Veil now answers as PostgreSQL does (mode, SQL,
# parameters): each must show no difference at all.
FIXED = [
    ("text", "SELECT 1 AS x FROM p.t1 a JOIN p.t2 b ON a.i8 = b.i8 WHERE (SELECT FALSE FROM d.t2 c WHERE FALSE)", ()),
    ("text", "SELECT INTERVAL '2 hours' + INTERVAL '-3 days 04:00:00' AS i, ts - INTERVAL '1 day 02:00' FROM p.t1", ()),
    ("text", "SELECT INTERVAL '2 hours' + INTERVAL '-3 days 04:00:00' AS i FROM d.t1", ()),
    ("text", "SELECT encode(by, 'hex') AS e, decode(encode(by, 'base64'), 'base64') AS d, decode('00ff', 'hex') FROM d.t1", ()),
    ("binary", "SELECT EXTRACT(SECOND FROM ts) AS s, EXTRACT(EPOCH FROM tz) AS e, EXTRACT(YEAR FROM d) FROM d.t1", ()),
    ("text", "SELECT (d - 1) - d AS days, d - DATE '2000-01-01', ts - (d + iv) FROM d.t1", ()),
    ("text", "SELECT substring(tx FROM -1 FOR 5) AS s, substr(tx, 0, 2), concat(tx, b) AS c FROM d.t1", ()),
    ("text", "SELECT ts AT TIME ZONE 'UTC', INTERVAL '2 hours' FROM p.t1", ()),
    ("text", "SELECT CAST(n AS numeric(5,1)) AS n FROM d.t1", ()),
    ("prepared", "SELECT $1 AS v FROM p.t2", (("NaN", 701),)),
    ("prepared", "SELECT $1 AS v, $2 AS w FROM d.t2", (("1 mon 2 days", 1186), ("2000-01-01 00:00:00", 1114))),
    ("text", "SELECT f4 * f4 AS x FROM d.t1", ()),
    ("text", "SELECT CAST('abc' AS numeric(5,1)) AS n FROM d.t1 WHERE FALSE", ()),
    ("text", "SELECT make_date(1, 11, 31) AS d FROM d.t1", ()),
    ("text", "SELECT CAST(1e300 AS double precision) AS f FROM d.t2", ()),
    ("text", "SELECT date_part('dow', iv) AS d FROM p.t1", ()),
    ("text", "SELECT string_agg('x', ',' ORDER BY 'x') AS s FROM d.t1", ()),
    ("text", "SELECT sign(0.0) AS s, trunc(0.0) AS t, div(1, 1) AS d, round(round(n, -1), 3) AS r FROM d.t1", ()),
    ("prepared", "SELECT $1 AS n FROM d.t2", (("0.001", 1700),)),
]


@pytest.mark.parametrize(("mode", "sql", "params"), FIXED, ids=[f[1][:60] for f in FIXED])
def test_fixed_classes_answer_as_postgres(differ: Differ, mode: str, sql: str, params: tuple[tuple[str, int], ...]) -> None:
    found = differ.check(repro_statement(sql, params), mode, typed=True)
    assert found == [], "\n".join(m.describe() for m in found)
