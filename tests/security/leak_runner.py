"""Run a statement as one user over a long-lived psycopg connection and collect everything the
client receives as text: column names, rows, the command tag, notices, and for a refusal every
field of the ErrorResponse. :func:`find_leaks` then searches that text for the user's canaries.

Each statement is cancelled (CancelRequest) after ``STATEMENT_SECONDS``, so a slow statement can
not stall the suite; outcomes are counted per source, user and SQLSTATE (``00000`` = answered).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from tests.conftest import VeilServer
from tests.security.leak_data import DEFAULT_SCHEMA, PASSWORD, canaries
from tests.security.leak_sql import for_source

STATEMENT_SECONDS = 20.0


@dataclass(frozen=True)
class Outcome:
    sqlstate: str  # "00000" when answered
    text: str  # everything the client received, lower case
    rows: int


@dataclass(frozen=True)
class Leak:
    kind: str
    canary: str
    channel: str  # "result", "error" or "notice"


@dataclass
class LeakStats:
    """Counts across the session, printed by the security conftest's terminal summary."""

    outcomes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    messages: dict[str, str] = field(default_factory=dict)  # one example message per SQLSTATE
    seconds: float = 0.0

    def record(self, source: str, user: str, outcome: Outcome, seconds: float) -> None:
        self.outcomes[(source, user, outcome.sqlstate)] += 1
        self.seconds += seconds
        if outcome.sqlstate != "00000" and outcome.sqlstate not in self.messages:
            self.messages[outcome.sqlstate] = outcome.text[:160]


STATS = LeakStats()


def _error_text(error: psycopg.Error) -> str:
    diag = error.diag
    parts = [str(error), diag.message_primary, diag.message_detail, diag.message_hint, diag.context,
             diag.internal_query, diag.schema_name, diag.table_name, diag.column_name]
    return "\n".join(p for p in parts if p)


class LeakClient:
    """One user's connection to one server, reused for every statement."""

    def __init__(self, server: VeilServer, source: str, user: str) -> None:
        self.server = server
        self.source = source
        self.user = user
        self.notices: list[str] = []
        self.connection = self._connect()

    def _connect(self) -> psycopg.Connection:
        connection = psycopg.connect(
            host=self.server.host, port=self.server.port, user=self.user, password=PASSWORD,
            dbname="veil", autocommit=True, connect_timeout=10,
        )
        connection.add_notice_handler(self._notice)
        return connection

    def _notice(self, diag: psycopg.errors.Diagnostic) -> None:
        self.notices.append("\n".join(p for p in (diag.severity, diag.message_primary, diag.message_detail, diag.message_hint) if p))

    def run(self, sql: str) -> Outcome:
        self.notices.clear()
        started = time.monotonic()
        timer = threading.Timer(STATEMENT_SECONDS, self.connection.cancel)
        timer.start()
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql)
                rows = cursor.fetchall() if cursor.description else []
                names = [c.name for c in cursor.description or []]
                text = "\n".join([*names, *(repr(row) for row in rows), cursor.statusmessage or ""])
                outcome = Outcome("00000", text, len(rows))
        except psycopg.OperationalError as error:
            if self.connection.closed or self.connection.broken:
                self.connection = self._connect()
            outcome = Outcome(error.sqlstate or "08006", _error_text(error), 0)
        except psycopg.Error as error:
            outcome = Outcome(error.sqlstate or "XX000", _error_text(error), 0)
        finally:
            timer.cancel()
        if self.notices:
            outcome = Outcome(outcome.sqlstate, outcome.text + "\n" + "\n".join(self.notices), outcome.rows)
        STATS.record(self.source, self.user, outcome, time.monotonic() - started)
        return Outcome(outcome.sqlstate, outcome.text.lower(), outcome.rows)

    def close(self) -> None:
        self.connection.close()


def find_leaks(user: str, outcome: Outcome, sql: str = "") -> list[Leak]:
    channel = "error" if outcome.sqlstate != "00000" else "explain" if sql.startswith("EXPLAIN") else "result"
    return [
        Leak(kind, canary, channel)
        for kind, values in canaries(user).items()
        for canary in sorted(values)
        if canary.lower() in outcome.text
    ]


_LEAK_TYPES: dict[str, type[AssertionError]] = {}


def leak_error(kind: str) -> type[AssertionError]:
    """One exception class per leak kind, so Hypothesis reports (and shrinks) each separately."""
    if kind not in _LEAK_TYPES:
        name = "Leak_" + "".join(ch if ch.isalnum() else "_" for ch in kind)
        _LEAK_TYPES[kind] = type(name, (AssertionError,), {})
    return _LEAK_TYPES[kind]


def check_statement(clients: dict[str, LeakClient], sql: str, on_outcome: Callable[[str, Outcome], None] | None = None) -> None:
    """Run ``sql`` as every user; raise the first leak found (its kind picks the exception type)."""
    sql = for_source(sql, DEFAULT_SCHEMA[next(iter(clients.values())).source])
    for user, client in clients.items():
        outcome = client.run(sql)
        if on_outcome is not None:
            on_outcome(user, outcome)
        leaks = find_leaks(user, outcome, sql)
        if leaks:
            leak = leaks[0]
            raise leak_error(f"{leak.kind} in {leak.channel}")(
                f"{client.source}/{user} received {leak.kind} {leak.canary!r} in the {leak.channel} "
                f"(SQLSTATE {outcome.sqlstate}) of:\n{sql}\n--- received ---\n{outcome.text[:1500]}"
            )
