"""Which OID each database's enum or composite type is served under (veil.pgfields): the source's
own unless another database uses it (or its array OID) for another type, then one of Veil's that
depends on the database and the source OID only, never on the order the databases are read in."""

from __future__ import annotations

import zlib

import pyarrow as pa

from veil.pgfields import (
    FIRST_REMAPPED_OID,
    column_type_for_field,
    enum_type,
    pinned_field,
    register_source_types,
    served_user_type,
)
from veil.pgtypes import BY_OID, PgType


def _expected(database: str, oid: int) -> int:
    return FIRST_REMAPPED_OID + 2 * (zlib.crc32(f"{database}\0{oid}".encode()) % (2**27 - 1))


def _mood(oid: int, *labels: str) -> PgType:
    return enum_type(oid, oid - 1, "public", "mood", labels)


def test_contested_types_get_the_same_oids_whatever_the_order() -> None:
    for run, order in enumerate(((0, 1), (1, 0))):
        oid = 930_010 + 10 * run
        databases = [f"h:5432/a{run}", f"h:5432/b{run}"]
        types = [_mood(oid, "sad", "happy"), _mood(oid, "glum", "happy")]
        for index in order:
            register_source_types(databases[index], [types[index]])
        served = [served_user_type(database, oid) for database in databases]
        assert [t.oid if t else None for t in served] == [_expected(d, oid) for d in databases]
        assert [t.labels if t else None for t in served] == [("sad", "happy"), ("glum", "happy")]
        assert [t.array_oid if t else None for t in served] == [_expected(d, oid) + 1 for d in databases]
        arrays = [served_user_type(database, oid - 1) for database in databases]
        assert [(a.oid, a.element_oid) if a else None for a in arrays] == [
            (_expected(d, oid) + 1, _expected(d, oid)) for d in databases
        ]
        assert BY_OID[_expected(databases[1], oid)].labels == ("glum", "happy")
        assert oid not in BY_OID  # no database is served under the contested OID itself


def test_an_identical_or_lone_type_keeps_the_source_oid() -> None:
    register_source_types("h:5432/c", [_mood(930_110, "x", "y"), _mood(930_120, "only")])
    register_source_types("h:5432/d", [_mood(930_110, "x", "y")])
    assert served_user_type("h:5432/c", 930_110) == served_user_type("h:5432/d", 930_110) == BY_OID[930_110]
    assert BY_OID[930_110].oid == 930_110 and BY_OID[930_120].labels == ("only",)
    # a catalog stored before databases were told apart never contests a type
    register_source_types("", [_mood(930_120, "stale")], replace_all=False)
    assert served_user_type("h:5432/c", 930_120) == BY_OID[930_120] and BY_OID[930_120].labels == ("only",)


def test_a_type_dropped_elsewhere_is_no_longer_contested() -> None:
    register_source_types("h:5432/e", [_mood(930_210, "a")])
    register_source_types("h:5432/f", [_mood(930_210, "b")])
    assert served_user_type("h:5432/e", 930_210).oid == _expected("h:5432/e", 930_210)  # type: ignore[union-attr]
    register_source_types("h:5432/f", [])
    assert served_user_type("h:5432/e", 930_210).oid == 930_210  # type: ignore[union-attr]
    assert _expected("h:5432/f", 930_210) not in BY_OID


def test_a_field_pins_the_source_oid_and_reads_the_served_type() -> None:
    register_source_types("h:5432/g", [_mood(930_310, "one")])
    register_source_types("h:5432/k", [_mood(930_310, "two")])
    served = served_user_type("h:5432/g", 930_310)
    array = served_user_type("h:5432/g", 930_309)
    assert served is not None and array is not None
    for pg_type in (served, array):
        field = pinned_field("v", pa.string(), pg_type)
        assert field.metadata[b"veil.pg_type_oid"] == str(pg_type.origin[1] or 930_309).encode()
        assert column_type_for_field(field).type == pg_type
