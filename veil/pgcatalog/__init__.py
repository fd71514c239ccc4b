"""The local engine: PostgreSQL catalog emulation and table-less queries on in-memory DuckDB.

Entry points: :class:`LocalEngine` (compile → describe → execute), :class:`LocalContext` (the
session facts a statement depends on), :func:`references_local_only` (does a statement belong
here) and :func:`parse_postgres` (sqlglot parsing that also accepts ``$1::oid[]``).
"""

from veil.pgcatalog.classify import references_local_only
from veil.pgcatalog.context import LocalContext
from veil.pgcatalog.engine import LocalEngine, LocalQuery
from veil.pgcatalog.parse import parse_postgres

__all__ = ["LocalContext", "LocalEngine", "LocalQuery", "parse_postgres", "references_local_only"]
