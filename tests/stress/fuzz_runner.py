"""Runs fuzzer statements on PostgreSQL (the oracle) and through Veil, compares the answers, and
shrinks each mismatch to a small statement.

Each statement runs in three ways on both servers: the simple query protocol (text results), the
extended protocol with binary results, and (some statements) as a prepared statement whose
literals are parameters. Compared: the SQLSTATE of an error, column names, type OIDs and
modifiers, and the values (text or binary bytes; rows in order under a total ORDER BY, else as
multisets). Veil may refuse a statement PostgreSQL answers, with a clean message and a
"cannot do that" SQLSTATE (classes 0A, 42, 53, 54): that is counted, not failed.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import pq

from tests.conftest import VeilServer, postgres_connection, start_server, stop_server
from tests.stress import fuzz_schema
from tests.stress.fuzz_nodes import Statement, statement_shrinks
from tests.stress.query_fuzz import Generator
from veil.proxy.auth import make_scram_verifier

PASSWORD = "fuzz-secret"
# words of a message no PostgreSQL error has: the engine or library underneath leaked through
UNCLEAN = re.compile(
    r"(?i:duckdb|sqlglot|binder|conversion error|catalog error|parser error|invalid input error|out of range error|"
    r"not implemented|traceback|pyarrow|arrow|exception|internal error|logicaltype|has no effect)|"
    r"\b(HUGEINT|UBIGINT|INT64|INT32|INT16|DOUBLE|VARCHAR|BLOB|DECIMAL\(|STRUCT|TIMESTAMP WITH TIME ZONE|TIMESTAMP_NS|"
    r"INTEGER|BIGINT|SMALLINT|BOOLEAN)\b"
)
# Veil's own refusal of a function outside a source's allow-list names the source type
ALLOW_LIST = re.compile(r"it is not on Veil's allow-list for \w+")
REFUSAL_CLASSES = ("0A", "42", "53", "54")
# errors PostgreSQL raises while running a statement (data exceptions, cardinality)
RUNTIME_CLASSES = ("22", "21")
MODES = ("text", "binary", "prepared")


@dataclass
class Outcome:
    sqlstate: str | None = None
    message: str = ""
    fields: tuple[tuple[str, int, int], ...] = ()
    rows: tuple[tuple[bytes | None, ...], ...] = ()

    def short(self) -> str:
        if self.sqlstate:
            return f"ERROR {self.sqlstate}: {self.message}"
        head = ", ".join(f"{n}:{o}/{m}" for n, o, m in self.fields)
        body = "; ".join("(" + ", ".join("NULL" if v is None else _show(v) for v in row) + ")" for row in self.rows[:6])
        more = f" ... {len(self.rows)} rows" if len(self.rows) > 6 else ""
        return f"[{head}] {body}{more}"


def _show(value: bytes) -> str:
    try:
        return repr(value.decode())
    except UnicodeDecodeError:
        return value.hex()


def execute(connection: psycopg.Connection, sql: str, mode: str, params: list[tuple[str, int]], typed: bool) -> Outcome:
    conn = connection.pgconn
    if mode == "text":
        result = conn.exec_(sql.encode())
    elif mode == "binary":
        result = conn.exec_params(sql.encode(), None, None, None, 1)
    else:
        types = [oid if typed else 0 for _, oid in params]
        prepared = conn.prepare(b"", sql.encode(), types)
        if prepared.status == pq.ExecStatus.FATAL_ERROR:
            result = prepared
        else:
            values = [text.encode() for text, _ in params]
            result = conn.exec_prepared(b"", values, None, 0)
    if result.status == pq.ExecStatus.FATAL_ERROR:
        state = result.error_field(pq.DiagnosticField.SQLSTATE) or b"?????"
        message = result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or b""
        return Outcome(state.decode(), message.decode(errors="replace"))
    if result.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
        return Outcome("?????", f"status {result.status}")
    fields = tuple(
        ((result.fname(i) or b"").decode(), result.ftype(i), result.fmod(i)) for i in range(result.nfields)
    )
    rows = tuple(tuple(result.get_value(r, c) for c in range(result.nfields)) for r in range(result.ntuples))
    return Outcome(None, "", fields, rows)


def _sort_key(row: tuple[bytes | None, ...]) -> tuple[tuple[int, bytes], ...]:
    return tuple((0, b"") if v is None else (1, v) for v in row)


def differences(pg: Outcome, veil: Outcome, ordered: bool) -> list[tuple[str, ...]]:
    """Signatures of the ways Veil's outcome differs from PostgreSQL's (empty: the same)."""
    found: list[tuple[str, ...]] = []
    message = ALLOW_LIST.sub("", veil.message)
    if veil.sqlstate and (UNCLEAN.search(message) or veil.sqlstate.startswith("XX")):
        found.append(("unclean-message",))
    if pg.sqlstate or veil.sqlstate:
        if pg.sqlstate and veil.sqlstate:
            if pg.sqlstate != veil.sqlstate and pg.sqlstate[:2] in RUNTIME_CLASSES and veil.sqlstate[:2] in REFUSAL_CLASSES:
                found.append(("refused", veil.sqlstate))  # refused before running into PostgreSQL's error
            elif pg.sqlstate != veil.sqlstate:
                found.append(("sqlstate", pg.sqlstate, veil.sqlstate))
        elif pg.sqlstate:
            found.append(("veil-answers", pg.sqlstate))
        elif veil.sqlstate and veil.sqlstate[:2] in REFUSAL_CLASSES:
            found.append(("refused", veil.sqlstate))
        else:
            found.append(("veil-errors", veil.sqlstate or ""))
        return found
    if len(pg.fields) != len(veil.fields):
        return [*found, ("width",)]
    for (pn, po, pm), (vn, vo, vm) in zip(pg.fields, veil.fields, strict=True):
        if po != vo:
            found.append(("type", str(po), str(vo)))
        elif pm != vm:
            found.append(("typmod", str(po)))
        if pn != vn:
            found.append(("name", pn))
    if found:
        return found
    left, right = (pg.rows, veil.rows) if ordered else (sorted(pg.rows, key=_sort_key), sorted(veil.rows, key=_sort_key))
    if left != right:
        found.append(("value",))
    return found


@dataclass
class Mismatch:
    statement: Statement
    mode: str
    signature: tuple[str, ...]
    typed: bool
    pg: Outcome
    veil: Outcome

    @property
    def key(self) -> tuple[str, ...]:
        return (self.mode, *self.signature)

    def sql(self) -> str:
        return self.statement.sql([] if self.mode == "prepared" else None)

    def params(self) -> list[tuple[str, int]]:
        params: list[tuple[str, int]] = []
        if self.mode == "prepared":
            self.statement.sql(params)
        return params

    def describe(self) -> str:
        params = self.params()
        text = f"{' '.join(self.key)}: {self.sql()}"
        if params:
            text += f"\n  params {[(p, oid if self.typed else 0) for p, oid in params]}"
        return text + f"\n  postgres: {self.pg.short()}\n  veil:     {self.veil.short()}"


@dataclass
class Stats:
    statements: int = 0
    executions: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    refusal_examples: dict[str, str] = field(default_factory=dict)
    mismatches: Counter[tuple[str, ...]] = field(default_factory=Counter)
    seconds: float = 0.0


def normalise(message: str) -> str:
    return re.sub(r'"[^"]*"|\'[^\']*\'|\d+', "…", message)[:120]


class Differ:
    """Two connections (PostgreSQL and Veil) and the comparison of one statement on both."""

    def __init__(self, oracle_dsn: str, veil_dsn: str) -> None:
        self.oracle_dsn = oracle_dsn
        self.veil_dsn = veil_dsn
        self.oracle = self._connect(oracle_dsn)
        self.veil = self._connect(veil_dsn)
        self.stats = Stats()

    @staticmethod
    def _connect(dsn: str) -> psycopg.Connection:
        connection = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        connection.pgconn.exec_(b"SET statement_timeout = '10s'")
        return connection

    def close(self) -> None:
        self.oracle.close()
        self.veil.close()

    def _veil(self, sql: str, mode: str, params: list[tuple[str, int]], typed: bool) -> Outcome:
        if self.veil.closed or self.veil.pgconn.status != pq.ConnStatus.OK:
            self.veil = self._connect(self.veil_dsn)
        try:
            return execute(self.veil, sql, mode, params, typed)
        except psycopg.Error as error:
            self.veil = self._connect(self.veil_dsn)
            return Outcome("08006", f"connection lost: {error}")

    def check(self, statement: Statement, mode: str, typed: bool) -> list[Mismatch]:
        params: list[tuple[str, int]] = []
        sql = statement.sql(params if mode == "prepared" else None)
        pg = execute(self.oracle, sql, mode, params, typed)
        veil = self._veil(sql, mode, params, typed)
        self.stats.executions += 1
        return [Mismatch(statement, mode, sig, typed, pg, veil) for sig in differences(pg, veil, statement.ordered)]

    def run(self, statement: Statement, prepared: bool, typed: bool) -> list[Mismatch]:
        """Every mismatch of ``statement`` (a binary one only where text agrees on it)."""
        self.stats.statements += 1
        found = self.check(statement, "text", typed)
        seen = {m.signature for m in found}
        found += [m for m in self.check(statement, "binary", typed) if m.signature not in seen]
        if prepared:
            seen |= {m.signature for m in found}
            found += [m for m in self.check(statement, "prepared", typed) if m.signature not in seen]
        for mismatch in found:
            if mismatch.signature[0] == "refused":
                key = f"{mismatch.mode} {mismatch.veil.sqlstate} {normalise(mismatch.veil.message)}"
                self.stats.refusals[key] += 1
                self.stats.refusal_examples.setdefault(key, mismatch.sql())
            else:
                self.stats.mismatches[mismatch.key] += 1
        return found

    def shrink(self, mismatch: Mismatch, budget: float = 20.0) -> Mismatch:
        """The smallest statement found within ``budget`` seconds that still shows ``mismatch``'s
        signature in the same mode (greedy: take the first smaller candidate that does, repeat)."""
        deadline = time.monotonic() + budget
        current = mismatch
        progress = True
        while progress and time.monotonic() < deadline:
            progress = False
            for candidate in statement_shrinks(current.statement):
                if time.monotonic() > deadline:
                    break
                for found in self.check(candidate, current.mode, current.typed):
                    if found.signature == current.signature and found.pg.sqlstate == current.pg.sqlstate:
                        current = found
                        progress = True
                        break
                if progress:
                    break
        return current


def fuzz_config(duckdb_path: Path, source_dsn: str) -> dict[str, object]:
    return {
        "server": {"host": "127.0.0.1", "port": 0},
        "connections": {
            "duck": {"type": "duckdb", "path": str(duckdb_path)},
            "pg": postgres_connection(source_dsn, population={"schemas": ["p"]}),
        },
        "secrets": {"hash_key": "fuzz-hash-key"},
        "users": {"fuzz": {"password": make_scram_verifier(PASSWORD), "admin": True}},
        "policies": [{"name": "Fuzzer reads everything", "subscription": {"tables": ["*"], "allow": {"users": ["fuzz"]}}}],
    }


@dataclass
class FuzzEnv:
    oracle_dsn: str
    server: VeilServer
    stop: Callable[[], None]

    def veil_dsn(self) -> str:
        return self.server.dsn("fuzz", PASSWORD)


def start(directory: Path, admin_dsn: str, suffix: str) -> FuzzEnv:
    """The oracle database, the two sources and a `veil serve` over them."""
    from tests.conftest import scratch_database

    oracle = scratch_database(admin_dsn, f"veil_fuzz_oracle_{suffix}")
    fuzz_schema.write_postgres(oracle, fuzz_schema.SCHEMAS)
    source = scratch_database(admin_dsn, f"veil_fuzz_source_{suffix}")
    fuzz_schema.write_postgres(source, ("p",))
    duck = directory / "fuzz.duckdb"
    fuzz_schema.write_duckdb(duck)
    process, server = start_server(directory, fuzz_config(duck, source))

    def stop() -> None:
        stop_server(process)
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            for name in (oracle, source):
                database = psycopg.conninfo.conninfo_to_dict(name)["dbname"]
                connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    return FuzzEnv(oracle, server, stop)


def statements(seed: int, count: int) -> list[tuple[Statement, bool, bool]]:
    """``count`` statements of ``seed``, each with whether it also runs prepared, and typed."""
    generator = Generator(seed)
    flags = Generator(seed + 1).rng
    return [(generator.statement(), flags.random() < 0.3, flags.random() < 0.5) for _ in range(count)]
