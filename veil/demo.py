"""``veil demo``: a realistic sample warehouse in DuckDB plus a config that serves it.

The data is generated inside DuckDB with set-based SQL (a million rows in a few seconds), from a
fixed seed so every demo looks the same: customers with names, emails, phones and countries, and
transactions with Luhn-valid card numbers, amounts, currencies, merchants and timestamps.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from veil.proxy.auth import make_scram_verifier

DEMO_USERS: dict[str, dict[str, object]] = {
    "alice": {"groups": ["Analytics"], "attributes": {"country": ["US", "CA"]}},
    "bob": {"groups": ["Fraud"], "attributes": {"country": ["DE", "FR", "GB"]}},
    "carol": {"groups": ["Marketing"]},
    "root": {"admin": True, "groups": ["Admins"]},
}

_SCHEMA_SQL = """
CREATE SCHEMA sales;
SELECT setseed(0.42);
CREATE TABLE sales.customers AS
SELECT
    i AS customer_id,
    first_name || ' ' || last_name AS full_name,
    lower(first_name) || '.' || lower(last_name) || i::VARCHAR || '@' || domain AS email,
    '+1-' || lpad((200 + (random() * 799)::INT)::VARCHAR, 3, '0') || '-555-'
        || lpad(((random() * 9999)::INT)::VARCHAR, 4, '0') AS phone,
    country,
    DATE '1950-01-01' + (random() * 18000)::INT AS date_of_birth,
    TIMESTAMP '2019-01-01' + INTERVAL (i * 37 % 157680000) SECOND AS signed_up_at,
    (['bronze', 'silver', 'gold', 'platinum'])[1 + (i % 4)] AS tier
FROM (
    SELECT
        i,
        (['James','Mary','Robert','Patricia','John','Jennifer','Michael','Linda','David','Elizabeth',
          'Ahmed','Sofia','Lukas','Emma','Hiroshi','Yuki','Carlos','Lucia','Olivia','Noah'])[1 + (i * 7 % 20)]
            AS first_name,
        (['Smith','Johnson','Williams','Brown','Jones','Garcia','Miller','Davis','Martinez','Lopez',
          'Muller','Schmidt','Dubois','Martin','Tanaka','Sato','Rossi','Silva','Novak','Kowalski'])[1 + (i * 13 % 20)]
            AS last_name,
        (['example.com','mail.test','corp.example','shop.test'])[1 + (i % 4)] AS domain,
        (['US','US','US','CA','GB','DE','FR','JP','BR','MX'])[1 + (i * 3 % 10)] AS country
    FROM range(1, {customers} + 1) AS t(i)
);
CREATE TABLE sales.transactions AS
WITH base AS (
    SELECT
        i AS transaction_id,
        1 + (hash(i) % {customers})::BIGINT AS customer_id,
        (['4','5','37','6011'])[1 + (i % 4)] AS card_prefix,
        (hash(i * 31) % 100000000000000)::VARCHAR AS card_random,
        i
    FROM range(1, {transactions} + 1) AS t(i)
), payloads AS (
    SELECT *, left(card_prefix || lpad(card_random, 14, '0'), 15) AS payload FROM base
)
SELECT
    p.transaction_id,
    p.customer_id,
    p.payload || ((10 - list_sum(list_transform(range(15), lambda k:
        CASE WHEN k % 2 = 0
             THEN (substr(p.payload, 15 - k, 1)::INT * 2) - CASE WHEN substr(p.payload, 15 - k, 1)::INT * 2 > 9 THEN 9 ELSE 0 END
             ELSE substr(p.payload, 15 - k, 1)::INT END)) % 10) % 10)::VARCHAR AS card_number,
    c.email,
    c.country,
    round((hash(p.i * 7) % 500000) / 100.0 + 1, 2)::DECIMAL(12, 2) AS amount,
    (['USD','USD','EUR','GBP','CAD','JPY'])[1 + (p.i % 6)] AS currency,
    (['Acme Market','Globex Fuel','Initech Cloud','Umbrella Pharmacy','Hooli Travel',
      'Stark Hardware','Wayne Books','Soylent Foods'])[1 + (hash(p.i * 3) % 8)::INT] AS merchant,
    (['groceries','fuel','software','health','travel','hardware','books','food'])[1 + (hash(p.i * 3) % 8)::INT]
        AS category,
    TIMESTAMPTZ '2026-11-01 00:00:00+00' - INTERVAL ((hash(p.i * 11) % 31536000)::BIGINT) SECOND AS created_at,
    (['settled','settled','settled','pending','refunded'])[1 + (p.i % 5)] AS status
FROM payloads p JOIN sales.customers c USING (customer_id)
ORDER BY p.transaction_id;
"""


@dataclass(frozen=True)
class DemoFiles:
    database: Path
    config: Path


def write_demo_database(path: Path, *, customers: int = 50_000, transactions: int = 1_000_000) -> None:
    """Create (or replace) the demo DuckDB database."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)
    connection = duckdb.connect(str(path))
    try:
        connection.execute("SET enable_progress_bar = false")
        for statement in _SCHEMA_SQL.format(customers=customers, transactions=transactions).split(";"):
            if statement.strip():
                connection.execute(statement)
        connection.execute("CHECKPOINT")
    finally:
        connection.close()


def demo_config(database: Path, *, host: str, port: int) -> dict[str, object]:
    """The demo's veil.yaml: every demo user's password is their user name.

    Card numbers and e-mails of transactions are tagged by hand; the customers table is left
    untagged on purpose: `veil demo` runs sensitive data discovery before serving, and the same
    policies protect what discovery tags (``Discovered.Entity.*``)."""
    users = {
        name: {"password": make_scram_verifier(name), **settings} for name, settings in DEMO_USERS.items()
    }
    return {
        "server": {"host": host, "port": port, "search_path": "sales, public"},
        "state_dir": ".veil",
        "secrets": {"hash_key": secrets.token_hex(16)},
        "connections": {"demo": {"type": "duckdb", "path": database.name, "latency": "1h"}},
        "tables": {
            "demo.sales.transactions": {
                "event_time": "created_at",
                "tags": {"card_number": ["PII.CreditCard"], "email": ["PII.Email"]},
            },
        },
        "users": users,
        "policies": [
            {
                "name": "Analysts and fraud read sales",
                "subscription": {
                    "tables": ["demo.sales.*"],
                    "allow": {"groups": ["Analytics", "Fraud", "Admins"]},
                },
            },
            {
                "name": "Marketing reads customers",
                "subscription": {"tables": ["demo.sales.customers"], "allow": {"groups": ["Marketing"]}},
            },
            {
                "name": "Hash card numbers",
                "mask": {
                    "column_tags": ["PII.CreditCard", "Discovered.Entity.CreditCardNumber"],
                    "with": "hash",
                    "except": {"groups": ["Fraud"]},
                },
            },
            {
                "name": "E-mail domain only",
                "mask": {
                    "column_tags": ["PII.Email", "Discovered.Entity.EmailAddress"],
                    "with": "email_domain",
                    "except": {"groups": ["Fraud"]},
                },
            },
            {
                "name": "Last four digits of phones",
                "mask": {"column_tags": ["Discovered.Entity.PhoneNumber"], "with": "show_last", "n": 4},
            },
            {
                "name": "Analysts see their countries",
                "row_filter": {
                    "tables": ["demo.sales.transactions"],
                    "where": "@attributeValuesContains('country', country)",
                    "for": {"groups": ["Analytics"]},
                },
            },
        ],
    }


def write_demo(directory: Path, *, host: str, port: int, transactions: int = 1_000_000) -> DemoFiles:
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "demo.duckdb"
    write_demo_database(database, transactions=transactions)
    config = directory / "veil.yaml"
    config.write_text(
        "# Veil demo configuration (generated by `veil demo`). Passwords equal user names.\n"
        + yaml.safe_dump(demo_config(database, host=host, port=port), sort_keys=False),
        encoding="utf-8",
    )
    return DemoFiles(database, config)
