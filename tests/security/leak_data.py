"""The leak suite's warehouse: demo-like tables with planted canaries, its users and policies.

Every value a user must not see is distinctive (``zq...`` markers, 16-digit card numbers that
occur nowhere else), so a substring search over everything the client receives finds it however
the statement reshaped it. The same rows are loaded into DuckDB and into PostgreSQL.

Users (one per policy kind):

* ``masked``   reads every sales table; card numbers are hashed, e-mails show the domain only.
* ``filtered`` reads every sales table unmasked, but only rows of its countries (US, CA).
* ``outsider`` is subscribed to ``sales.countries`` only.

Nobody but ``root`` may read ``hr.salaries``; the hash key is a secret for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.seed import seed_duckdb, seed_postgres
from veil.proxy.auth import make_scram_verifier

PASSWORD = "pw"
HASH_KEY = "zqhashkey7c1e5f"
USERS = ("masked", "filtered", "outsider")
VISIBLE_COUNTRIES = ("US", "CA")
COUNTRIES = [("US", "United States"), ("CA", "Canada"), ("DE", "Germany"), ("ZZ", "Zedland")]
DOMAINS = ("example.com", "mail.test", "shop.test")
BASE_TIME = datetime(2026, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Customer:
    customer_id: int
    full_name: str
    email: str
    country: str
    signed_up_at: datetime

    @property
    def hidden(self) -> bool:
        return self.country not in VISIBLE_COUNTRIES


@dataclass(frozen=True)
class Transaction:
    transaction_id: int
    customer_id: int
    card_number: str
    email: str
    country: str
    amount: float
    currency: str
    memo: str
    created_at: datetime

    @property
    def hidden(self) -> bool:
        return self.country not in VISIBLE_COUNTRIES


def _card(i: int) -> str:
    """A 16-digit card number unique to transaction ``i`` (no two share a 10-digit run)."""
    return f"4{(i * 7919) % 1_000_000:06d}93{i:02d}51703"[:16]


CUSTOMERS = [
    Customer(
        customer_id=c,
        full_name=f"zqname{c:03d}q",
        email=f"zqmail{c:03d}q@{DOMAINS[c % len(DOMAINS)]}",
        country=COUNTRIES[c % len(COUNTRIES)][0],
        signed_up_at=(BASE_TIME - timedelta(days=40 * c)).replace(tzinfo=None),
    )
    for c in range(1, 9)
]
TRANSACTIONS = [
    Transaction(
        transaction_id=i,
        customer_id=(customer := CUSTOMERS[i % len(CUSTOMERS)]).customer_id,
        card_number=_card(i),
        email=customer.email,
        country=customer.country,
        amount=round(3.25 * i + (i % 7) * 11.5, 2),
        currency=("USD", "EUR", "GBP", "CAD")[i % 4],
        memo=f"zqmemo{i:03d}q",
        created_at=BASE_TIME - timedelta(hours=37 * i),
    )
    for i in range(1, 25)
]
SALARY = ("zqsalaryemp", 123456.78, "zqsalarynote")


@dataclass(frozen=True)
class LedgerEntry:
    """A protected table in the source's default schema (DuckDB ``main``, PostgreSQL ``public``),
    where an unqualified name that escaped the rewriter would still resolve at the source."""

    entry_id: int
    card_number: str
    email: str
    country: str
    memo: str

    @property
    def hidden(self) -> bool:
        return self.country not in VISIBLE_COUNTRIES


LEDGER = [
    LedgerEntry(i, _card(100 + i), CUSTOMERS[i % len(CUSTOMERS)].email, CUSTOMERS[i % len(CUSTOMERS)].country, f"zqledger{i:03d}q")
    for i in range(1, 13)
]
DEFAULT_SCHEMA = {"duckdb": "main", "postgres": "public"}


def _local_part(email: str) -> str:
    return email.split("@", 1)[0]


def canaries(user: str) -> dict[str, frozenset[str]]:
    """What ``user`` must never receive, by kind (lower case: matching ignores case)."""
    secrets = {"secret hash key": frozenset({HASH_KEY}), "unsubscribed hr.salaries": frozenset({SALARY[0], SALARY[2]})}
    if user == "masked":
        return {
            **secrets,
            "raw card number": frozenset(t.card_number for t in TRANSACTIONS) | {e.card_number for e in LEDGER},
            "raw e-mail": frozenset(_local_part(c.email) for c in CUSTOMERS),
        }
    if user == "filtered":
        return {
            **secrets,
            "hidden-country transaction": frozenset(
                v for t in TRANSACTIONS if t.hidden for v in (t.card_number, t.memo)
            ),
            "hidden-country customer": frozenset(
                v for c in CUSTOMERS if c.hidden for v in (c.full_name, _local_part(c.email))
            ),
            "hidden-country ledger entry": frozenset(v for e in LEDGER if e.hidden for v in (e.card_number, e.memo)),
        }
    if user == "outsider":
        return {
            **secrets,
            "unsubscribed sales.transactions": frozenset(
                v for t in TRANSACTIONS for v in (t.card_number, t.memo)
            ),
            "unsubscribed sales.customers": frozenset(
                v for c in CUSTOMERS for v in (c.full_name, _local_part(c.email))
            ),
            "unsubscribed ledger": frozenset(v for e in LEDGER for v in (e.card_number, e.memo)),
        }
    raise ValueError(user)


TABLES_SQL = [
    "CREATE SCHEMA sales",
    "CREATE SCHEMA hr",
    "CREATE TABLE sales.countries (code VARCHAR, name VARCHAR)",
    (
        "CREATE TABLE sales.customers (customer_id BIGINT, full_name VARCHAR, email VARCHAR, country VARCHAR,"
        " signed_up_at TIMESTAMP)"
    ),
    (
        "CREATE TABLE sales.transactions (transaction_id BIGINT, customer_id BIGINT, card_number VARCHAR,"
        " email VARCHAR, country VARCHAR, amount DECIMAL(12, 2), currency VARCHAR, memo VARCHAR,"
        " created_at TIMESTAMPTZ)"
    ),
    "CREATE TABLE hr.salaries (employee VARCHAR, salary DECIMAL(10, 2), note VARCHAR)",
    "CREATE TABLE ledger (entry_id BIGINT, card_number VARCHAR, email VARCHAR, country VARCHAR, memo VARCHAR)",
]


def _rows() -> list[tuple[str, list[tuple[object, ...]]]]:
    return [
        ("sales.countries", COUNTRIES),
        ("sales.customers", [tuple(vars(c).values()) for c in CUSTOMERS]),
        ("sales.transactions", [tuple(vars(t).values()) for t in TRANSACTIONS]),
        ("hr.salaries", [SALARY]),
        ("ledger", [tuple(vars(e).values()) for e in LEDGER]),
    ]


def write_duckdb(path: Path) -> dict[str, object]:
    return seed_duckdb(path, TABLES_SQL, dict(_rows()))


def write_postgres(dsn: str) -> None:
    seed_postgres(dsn, TABLES_SQL, dict(_rows()))


def leak_config(connection: dict[str, object], source: str) -> dict[str, object]:
    user = {"password": make_scram_verifier(PASSWORD)}
    ledger = f"warehouse.{DEFAULT_SCHEMA[source]}.ledger"
    return {
        "server": {"host": "127.0.0.1", "port": 0, "search_path": f"sales, {DEFAULT_SCHEMA[source]}"},
        "secrets": {"hash_key": HASH_KEY},
        "connections": {"warehouse": connection},
        "tables": {
            "warehouse.sales.transactions": {
                "event_time": "created_at",
                "tags": {"card_number": ["PII.CreditCard"], "email": ["PII.Email"]},
            },
            "warehouse.sales.customers": {"tags": {"email": ["PII.Email"]}},
            ledger: {"tags": {"card_number": ["PII.CreditCard"], "email": ["PII.Email"]}},
        },
        "users": {
            "masked": {**user, "groups": ["Analytics"]},
            "filtered": {**user, "groups": ["Regional"], "attributes": {"country": list(VISIBLE_COUNTRIES)}},
            "outsider": {**user, "groups": ["Outsiders"]},
            "root": {**user, "admin": True},
        },
        "policies": [
            {"name": "Sales readers", "subscription": {"tables": ["warehouse.sales.*", ledger], "allow": {"groups": ["Analytics", "Regional"], "users": ["root"]}}},
            {"name": "Countries for all", "subscription": {"tables": ["warehouse.sales.countries"], "allow": {"groups": ["Outsiders"]}}},
            {"name": "HR for root", "subscription": {"tables": ["warehouse.hr.*"], "allow": {"users": ["root"]}}},
            {"name": "Hash cards", "mask": {"column_tags": ["PII.CreditCard"], "with": "hash", "for": {"groups": ["Analytics"]}}},
            {"name": "E-mail domain", "mask": {"column_tags": ["PII.Email"], "with": "email_domain", "for": {"groups": ["Analytics"]}}},
            {
                "name": "Own countries",
                "row_filter": {
                    "tables": ["warehouse.sales.transactions", "warehouse.sales.customers", ledger],
                    "where": "@attributeValuesContains('country', country)",
                    "for": {"groups": ["Regional"]},
                },
            },
        ],
    }
