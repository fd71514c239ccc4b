"""Throughput of the DataRow encoder (``veil.proxy.codec.encode_data_rows``).

Encodes a 1M-row batch of bigint, double, text and timestamp columns in text and in binary
format and reports rows per second (best of several runs, after a warm-up).

    python benchmarks/codec_bench.py [--rows N] [--repeat R]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa

from veil.proxy.codec import encode_data_rows


def make_batch(rows: int, seed: int = 1) -> pa.RecordBatch:
    rng = np.random.default_rng(seed)
    ids = rng.integers(-(10**12), 10**12, rows)
    amounts = np.round(rng.random(rows) * 10_000, 2)
    names = pa.array([f"customer {i}" for i in range(10_000)]).take(
        pa.array(rng.integers(0, 10_000, rows))
    )
    stamps = 1_600_000_000_000_000 + rng.integers(0, 10**14, rows)
    nulls = rng.random(rows) < 0.05
    return pa.RecordBatch.from_arrays(
        [
            pa.array(ids, pa.int64()),
            pa.array(amounts, pa.float64(), mask=nulls),
            names,
            pa.array(stamps, pa.timestamp("us")),
        ],
        names=["id", "amount", "name", "created"],
    )


def bench(batch: pa.RecordBatch, fmt: int, repeat: int) -> tuple[float, int]:
    encode_data_rows(batch, [fmt])
    best = float("inf")
    size = 0
    for _ in range(repeat):
        start = time.perf_counter()
        size = len(encode_data_rows(batch, [fmt]))
        best = min(best, time.perf_counter() - start)
    return best, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    batch = make_batch(args.rows)
    for fmt, name in ((0, "text"), (1, "binary")):
        seconds, size = bench(batch, fmt, args.repeat)
        rate = args.rows / seconds
        print(f"{name:6s}: {rate:12,.0f} rows/s  ({seconds * 1000:7.1f} ms, {size / 1e6:6.1f} MB)")


if __name__ == "__main__":
    main()
