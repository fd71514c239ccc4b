"""Benchmarks: `python -m benchmarks.wire` compares Veil with PostgreSQL over the wire."""
