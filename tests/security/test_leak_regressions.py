"""The leaks the property suite (test_leak_properties.py) found, minimised, as explicit cases.

Each statement ran through `veil serve` (DuckDB and PostgreSQL sources) as the masked, the
row-filtered and the unsubscribed user, and returned values those users must not see. Refusing
the statement is a fix; answering it with only what the user may see is a fix too. All of them
fail at 6a4bdf3 (this branch's base) and pass on main at d363bc3 (after the outgoing-SQL
verifier and the function allow-lists were merged).
"""

from __future__ import annotations

import pytest

from tests.security.leak_runner import LeakClient, check_statement

LEAKS = {
    # 1. A CTE named like a table, defined in ANY scope, made the planner skip every unqualified
    #    reference of that name in the whole statement (planner._cte_names collects CTE names
    #    statement-wide): the real table is sent raw (no masks, no row filter, no subscription)
    #    whenever another visible table keeps the statement on the source. The CTE need not
    #    even be read.
    "cte-name-in-subquery-shadows-table": "SELECT card_number, memo FROM ledger, countries WHERE EXISTS (WITH ledger AS (SELECT 1) SELECT 1)",
    "cte-name-in-derived-table": "SELECT card_number, memo FROM ledger, (WITH ledger AS (SELECT 1) SELECT 1) AS d, countries",
    "cte-name-in-nested-cte": "WITH x AS (WITH ledger AS (SELECT 1) SELECT 1) SELECT card_number, memo FROM ledger, countries",
    "cte-name-in-set-operation-branch": "SELECT card_number FROM ledger JOIN countries ON true UNION ALL (WITH ledger AS (SELECT 'x') SELECT 'x')",
    "cte-name-in-in-subquery-with-lateral": "SELECT l.card_number FROM countries, LATERAL (SELECT card_number FROM ledger) l WHERE 1 IN (WITH ledger AS (SELECT 1 AS y) SELECT y FROM ledger)",
    # 1b. A non-recursive CTE whose body reads the table it is named after: in PostgreSQL (and
    #     DuckDB) the inner name is the real table, but the planner skips it as "a CTE".
    "cte-body-reads-table-of-its-own-name": "WITH ledger AS (SELECT card_number, memo FROM ledger) SELECT l.* FROM ledger AS l, countries",
    # 2. PostgreSQL functions that run SQL (or dump tables) on the source, with the source's own
    #    privileges: the string argument is never analysed.
    "pg-query-to-xml": "SELECT CAST(query_to_xml('SELECT card_number, memo FROM sales.transactions', true, false, '') AS TEXT) FROM countries",
    "pg-table-to-xml": "SELECT CAST(table_to_xml('public.ledger', true, false, '') AS TEXT) FROM countries",
    "pg-schema-to-xml": "SELECT CAST(schema_to_xml('sales', true, false, '') AS TEXT) FROM countries",
    "pg-database-to-xml": "SELECT CAST(database_to_xml(true, false, '') AS TEXT) FROM countries",
    "pg-query-to-xml-and-xmlschema": "SELECT CAST(query_to_xml_and_xmlschema('SELECT card_number, memo FROM sales.transactions', true, false, '') AS TEXT) FROM countries",
    "pg-xpath-over-query-to-xml": "SELECT CAST(xpath('//text()', pg_catalog.query_to_xml('SELECT card_number, memo FROM sales.transactions', true, false, '')) AS TEXT) FROM countries",
    # 3. DuckDB's json_execute_serialized_sql runs a serialized statement on the source (a table
    #    function: analyze() lets every non-identifier FROM item through unchecked).
    "duckdb-json-execute-serialized-sql": "SELECT j.* FROM countries, json_execute_serialized_sql(json_serialize_sql('SELECT card_number, memo FROM sales.transactions')) AS j",
}


@pytest.mark.parametrize("sql", list(LEAKS.values()), ids=list(LEAKS))
def test_minimised_leak_is_closed(leak_clients: dict[str, LeakClient], sql: str) -> None:
    check_statement(leak_clients, sql)
