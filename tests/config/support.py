"""Pieces of Veil configurations the end-to-end tests share: users who log in with the suite's
passwords (:data:`tests.conftest.PASSWORDS`) and the policies many tests put in force.

Each call returns new dicts, so a test may change what it gets.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import PASSWORDS
from veil.proxy.auth import make_scram_verifier


def user(name: str, **settings: Any) -> dict[str, Any]:
    """A ``users:`` entry for ``name``, logging in with its suite password (a SCRAM verifier),
    with ``settings`` (``groups``, ``admin``, ``attributes``)."""
    return {"password": make_scram_verifier(PASSWORDS[name]), **settings}


def alice_and_root(**alice: Any) -> dict[str, dict[str, Any]]:
    """alice (with the ``alice`` settings) and root, an admin."""
    return {"alice": user("alice", **alice), "root": user("root", admin=True)}


def everyone_reads() -> dict[str, Any]:
    return {"name": "Everyone reads", "subscription": {"tables": ["*"], "allow": "everyone"}}


def _except(exempt: tuple[str, ...]) -> dict[str, Any]:
    return {"except": {"users": list(exempt)}} if exempt else {}


def hash_emails(exempt: tuple[str, ...] = ("root",)) -> dict[str, Any]:
    """Columns tagged PII.Email read as their keyed hash, by every user but ``exempt``."""
    return {"name": "Hash emails", "mask": {"column_tags": ["PII.Email"], "with": "hash", **_except(exempt)}}


def germany_only(*tables: str, exempt: tuple[str, ...] = ("root",)) -> dict[str, Any]:
    """Only the rows of ``tables`` whose country is 'DE', for every user but ``exempt``."""
    return {
        "name": "Germany only",
        "row_filter": {"tables": list(tables), "where": "country = 'DE'", **_except(exempt)},
    }


def users_and_policies() -> dict[str, Any]:
    """alice (of group Analytics) and root, who read every table, under no other policy."""
    return {"users": alice_and_root(groups=["Analytics"]), "policies": [everyone_reads()]}
