"""Property: whatever SELECT a user sends, nothing they must not see reaches their client.

Random statements (tests/security/leak_sql.py) run through a real `veil serve` on a DuckDB and a
PostgreSQL source as a masked user, a row-filtered user and a user without a subscription to
most tables. The text of every result row, column name, error, notice and EXPLAIN output is
searched for the canaries planted in the data (tests/security/leak_data.py). Refusals are fine;
leaks are not. Each leak kind raises its own exception type, so Hypothesis reports and shrinks
every kind it finds to a minimal statement.

CI runs a fixed, derandomised profile (``VEIL_LEAK_EXAMPLES`` statements per source, default
300) and reports a failing statement as generated; ``VEIL_LEAK_SHRINK=1`` lets Hypothesis shrink
it to a minimal one (minutes: every step runs on the server). Set ``VEIL_LEAK_EXAMPLES=100000``
for a long hunt (``VEIL_LEAK_SEED`` varies the run); ``python -m tests.security.hunt`` hunts
without Hypothesis and lists every leak kind found.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.security.leak_runner import LeakClient, check_statement
from tests.security.leak_sql import statements

EXAMPLES = int(os.environ.get("VEIL_LEAK_EXAMPLES", "300"))
SEED = int(os.environ.get("VEIL_LEAK_SEED", "0"))
SHRINK = os.environ.get("VEIL_LEAK_SHRINK") == "1"

LEAK_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=SEED == 0,
    deadline=None,
    database=None,
    print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, *([Phase.shrink] if SHRINK else [])],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@seed(SEED)
@LEAK_SETTINGS
@given(sql=statements())
def test_no_hidden_value_reaches_the_client(leak_clients: dict[str, LeakClient], sql: str) -> None:
    check_statement(leak_clients, sql)
