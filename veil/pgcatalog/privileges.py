"""What a user who is no superuser may do with PostgreSQL 15's own catalog relations: what their
``relacl`` (``data/static_rows.json``'s RELACL, from PostgreSQL) grants to PUBLIC. A relation with
no ACL there is its owner's only (``information_schema.sql_parts``, ``_pg_user_mappings``...).

``has_table_privilege`` answers from it, and information_schema lists only the relations (and
columns) a user holds some privilege on, as PostgreSQL's views do.
"""

from __future__ import annotations

from veil.pgcatalog.data import static_rows
from veil.pgcatalog.schema import RELATIONS

_ACL: dict[int, list[str]] = {
    int(str(oid)): [str(item) for item in acl] if isinstance(acl, list) else [] for oid, acl in static_rows.RELACL
}

#: Relations PUBLIC may read some columns of but not all: the columns it may not (PostgreSQL 15's
#: system_views.sql grants SELECT on every column of pg_subscription but subconninfo).
COLUMN_GRANTS: dict[str, frozenset[str]] = {"pg_subscription": frozenset({"subconninfo"})}


def _public_reads(oid: int) -> bool:
    return any(item.startswith("=") and "r" in item[1:].split("/")[0] for item in _ACL.get(oid, ()))


#: OIDs of built-in relations PUBLIC may not SELECT from.
UNREADABLE: frozenset[int] = frozenset(r.oid for r in RELATIONS.values() if not _public_reads(r.oid))
#: Of those, the ones information_schema still lists (PUBLIC holds privileges on some columns).
NOT_LISTED: frozenset[int] = frozenset(
    r.oid for r in RELATIONS.values() if r.oid in UNREADABLE and r.name not in COLUMN_GRANTS
)
