"""Known classes of differences between Veil and PostgreSQL found by the differential fuzzer, each
with a minimal reproduction (tests/stress/FUZZ_FINDINGS.md describes them).

A class matches a mismatch narrowly: its signature (the kind of difference and the SQLSTATEs or
type OIDs involved, see fuzz_runner.differences) and the constructs the statement must contain.
A mismatch no class matches is new and fails tests/stress/test_query_fuzz.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.stress.fuzz_runner import Mismatch
from tests.stress.query_fuzz import Raw, Statement

ALL_MODES = ("text", "binary", "prepared")


@dataclass(frozen=True)
class KnownClass:
    name: str
    signature: tuple[str, ...]  # a prefix of the mismatch's signature
    tags: frozenset[str]  # constructs the statement contains (all of them)
    repro: str
    params: tuple[tuple[str, int], ...] = ()  # the reproduction's parameters (mode "prepared")
    modes: tuple[str, ...] = ALL_MODES  # modes it matches; the first is the reproduction's
    typed: bool = True  # the reproduction's parameters are sent with their types

    def matches(self, mismatch: Mismatch) -> bool:
        return (
            mismatch.mode in self.modes
            and mismatch.signature[: len(self.signature)] == self.signature
            and self.tags <= mismatch.statement.tags()
        )


def repro_statement(sql: str, params: tuple[tuple[str, int], ...] = ()) -> Statement:
    return Statement(Raw(sql, params), ordered=False)


def known(name: str, signature: tuple[str, ...], tags: set[str], repro: str, **extra: object) -> KnownClass:
    return KnownClass(name, signature, frozenset(tags), repro, **extra)  # type: ignore[arg-type]


KNOWN: tuple[KnownClass, ...] = ()


def classify(mismatch: Mismatch) -> str | None:
    for entry in KNOWN:
        if entry.matches(mismatch):
            return entry.name
    return None
