"""Long exploratory runs of the differential SQL fuzzer, by hand:

    VEIL_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5432/postgres \\
        python -m tests.stress.fuzz_explore --seed 1 --statements 2000 [--shrink 40]

starts the oracle, the sources and `veil serve` in a temporary directory, runs the statements,
shrinks mismatches (at most --shrink of them, a few per signature) and prints each class (its
signature and the constructs of its shrunk statement) with a minimal reproduction, then the
refusals by message.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from tests.stress.fuzz_known import classify
from tests.stress.fuzz_runner import Differ, Mismatch, start, statements


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--statements", type=int, default=500)
    parser.add_argument("--shrink", type=int, default=40)
    parser.add_argument("--per-signature", type=int, default=3)
    parser.add_argument("--unknown-only", action="store_true")
    args = parser.parse_args(argv)
    admin = os.environ.get("VEIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
    with tempfile.TemporaryDirectory() as directory:
        env = start(Path(directory), admin, f"x{os.getpid()}")
        differ = Differ(env.oracle_dsn, env.veil_dsn())
        started = time.monotonic()
        found: list[Mismatch] = []
        try:
            for statement, prepared, typed in statements(args.seed, args.statements):
                found += [m for m in differ.run(statement, prepared, typed) if m.signature[0] != "refused"]
            run_seconds = time.monotonic() - started
            classes: dict[str, list[Mismatch]] = defaultdict(list)
            unknown_count: Counter[tuple[str, ...]] = Counter()
            shrunk = 0
            per_sig: Counter[tuple[str, ...]] = Counter()
            for mismatch in found:
                known = classify(mismatch)
                if known is not None and args.unknown_only:
                    classes[known].append(mismatch)
                    continue
                if shrunk >= args.shrink or per_sig[mismatch.key] >= args.per_signature:
                    unknown_count[mismatch.key] += 1
                    continue
                per_sig[mismatch.key] += 1
                shrunk += 1
                small = differ.shrink(mismatch)
                name = classify(small) or "UNKNOWN " + " ".join(small.key) + " " + ",".join(sorted(small.statement.tags()))
                classes[name].append(small)
        finally:
            differ.close()
            env.stop()
    out = sys.stdout
    out.write(f"{differ.stats.statements} statements, {differ.stats.executions} executions, {run_seconds:.1f}s\n")
    out.write(f"mismatches by signature: {dict(differ.stats.mismatches)}\n")
    out.write(f"not shrunk: {dict(unknown_count)}\n\n")
    for name, items in sorted(classes.items(), key=lambda kv: -len(kv[1])):
        smallest = min(items, key=lambda m: len(m.sql()))
        out.write(f"## {name}  ({len(items)})\n{smallest.describe()}\n\n")
    out.write("refusals:\n")
    for key, count in differ.stats.refusals.most_common():
        out.write(f"  {count:5d} {key}\n        e.g. {differ.stats.refusal_examples[key][:300]}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
