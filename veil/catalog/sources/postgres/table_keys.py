"""Primary keys, unique constraints and foreign keys of a PostgreSQL source, as sync reads
them from the source's ``pg_constraint`` (column lists in constraint order, as JSON so names
with commas or quotes survive ADBC's text transport)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from veil.catalog.model import TableKey

LIST_KEYS = """
SELECT n.nspname AS schema_name, c.relname AS table_name, k.conname, k.contype::text AS contype,
       pg_catalog.to_json(ARRAY(
           SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY AS u(num, pos)
           JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.num
           ORDER BY u.pos))::text AS columns,
       fn.nspname AS ref_schema, fc.relname AS ref_table,
       pg_catalog.to_json(ARRAY(
           SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY AS u(num, pos)
           JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.num
           ORDER BY u.pos))::text AS ref_columns,
       k.confupdtype::text AS on_update, k.confdeltype::text AS on_delete,
       k.condeferrable, k.condeferred
FROM pg_catalog.pg_constraint k
JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_class fc ON fc.oid = k.confrelid
LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
WHERE k.contype IN ('p', 'u', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
ORDER BY 1, 2, CASE k.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 ELSE 2 END, 3
"""

def keys_by_table(rows: Iterable[Mapping[str, object]]) -> dict[tuple[str, str], tuple[TableKey, ...]]:
    """The rows of :data:`LIST_KEYS` grouped by (schema, table)."""
    found: dict[tuple[str, str], list[TableKey]] = {}
    for row in rows:
        kind = str(row["contype"])
        key = TableKey(
            kind=kind,
            name=str(row["conname"]),
            columns=tuple(json.loads(str(row["columns"]))),
            ref_schema=None if kind != "f" else str(row["ref_schema"]),
            ref_table=None if kind != "f" else str(row["ref_table"]),
            ref_columns=tuple(json.loads(str(row["ref_columns"]))) if kind == "f" else (),
            on_update=str(row["on_update"]) if kind == "f" else "a",
            on_delete=str(row["on_delete"]) if kind == "f" else "a",
            deferrable=bool(row["condeferrable"]),
            deferred=bool(row["condeferred"]),
        )
        found.setdefault((str(row["schema_name"]), str(row["table_name"])), []).append(key)
    return {table: tuple(keys) for table, keys in found.items()}


def keys_to_json(keys: tuple[TableKey, ...]) -> str:
    """The store's spelling of a table's keys."""
    return json.dumps([
        [k.kind, k.name, list(k.columns), k.ref_schema, k.ref_table, list(k.ref_columns),
         k.on_update, k.on_delete, k.deferrable, k.deferred]
        for k in keys
    ])


def keys_from_json(text: str | None) -> tuple[TableKey, ...]:
    if not text:
        return ()
    return tuple(
        TableKey(kind, name, tuple(columns), ref_schema, ref_table, tuple(ref_columns), on_update, on_delete,
                 deferrable, deferred)
        for kind, name, columns, ref_schema, ref_table, ref_columns, on_update, on_delete, deferrable, deferred
        in json.loads(text)
    )
