"""Arrow fields' PostgreSQL types: the field metadata that pins a column's type (and modifier),
and the enum and composite types of PostgreSQL sources that metadata carries, with the registry
that serves them by OID (remapping an OID two databases use for different types).
"""

from __future__ import annotations

import json
import threading
import zlib
from dataclasses import replace

import pyarrow as pa

from veil.pgtypes import (
    BY_OID,
    PG_TYPE_METADATA_KEY,
    PG_TYPMOD_METADATA_KEY,
    RECORD_OID,
    ColumnType,
    PgType,
    array_of,
    column_type_for_arrow,
)


def column_type_for_field(field: pa.Field) -> ColumnType:
    """Like :func:`column_type_for_arrow`, but a type pinned in the field's metadata wins."""
    metadata = field.metadata or {}
    pinned = metadata.get(PG_TYPE_METADATA_KEY)
    if pinned is not None:
        typmod = int(metadata.get(PG_TYPMOD_METADATA_KEY, b"-1"))
        defined = metadata.get(PG_USER_TYPE_METADATA_KEY)
        if defined is not None:
            found, source_array = _decoded_user_type(defined)
            is_array = found.array_oid != 0 and int(pinned) in (source_array, found.array_oid)
            return ColumnType(array_of(found) if is_array else found, typmod)
        fields = metadata.get(PG_RECORD_FIELDS_METADATA_KEY)
        if fields is not None:
            return ColumnType(_record_type(fields), typmod)
        return ColumnType(BY_OID[int(pinned)], typmod)
    return column_type_for_arrow(field.type)


#: Field metadata key of a jsonb column whose text DuckDB computed (as json): the values are
#: printed again as PostgreSQL prints jsonb (sorted keys, ``{"a": 1}``).
NORMALISE_JSONB = b"veil.normalise_jsonb"
#: Field metadata key of a char(n) column DuckDB computed: its values are blank-padded to n.
PAD_CHAR = b"veil.pad_char"


def pinned_metadata(pg_type: PgType, typmod: int = -1) -> dict[bytes, bytes]:
    """Field metadata that fixes a column's PostgreSQL type (and modifier); a source's enum or
    composite type (or array of one) carries its whole definition, so the field needs no lookup."""
    oid = pg_type.oid
    defined = user_type(pg_type)
    if defined is not None and defined.origin[1]:  # the source's OID, which a remapping leaves
        oid = defined.origin[1] if pg_type.is_user_defined else defined.origin[2]
    metadata = {PG_TYPE_METADATA_KEY: str(oid).encode()}
    if typmod != -1:
        metadata[PG_TYPMOD_METADATA_KEY] = str(typmod).encode()
    if defined is not None:
        metadata[PG_USER_TYPE_METADATA_KEY] = _user_type_metadata(defined)
    if pg_type.oid == RECORD_OID and pg_type.fields:
        metadata[PG_RECORD_FIELDS_METADATA_KEY] = json.dumps([list(f) for f in pg_type.fields]).encode()
    return metadata


#: Field metadata key holding an anonymous record's fields (name, type OID, typmod), which
#: ``record_send`` writes per value.
PG_RECORD_FIELDS_METADATA_KEY = b"veil.pg_record_fields"
_RECORDS: dict[bytes, PgType] = {}


def _record_type(blob: bytes) -> PgType:
    found = _RECORDS.get(blob)
    if found is None:
        fields = tuple((str(f), int(t), int(m)) for f, t, m in json.loads(blob))
        found = _RECORDS[blob] = replace(BY_OID[RECORD_OID], fields=fields)
    return found


def pinned_field(
    name: str, arrow_type: pa.DataType, pg_type: PgType, typmod: int = -1, nullable: bool = True
) -> pa.Field:
    """An Arrow field whose PostgreSQL type is fixed regardless of the Arrow type."""
    return pa.field(name, arrow_type, nullable, metadata=pinned_metadata(pg_type, typmod))


# A source's enum or composite type is served with the source's own OID: user-defined OIDs start at
# 16384 (FirstNormalObjectId), so they never collide with a built-in type, and a type dropped and
# created again gets a new one, as clients caching types by OID expect.

#: Field metadata key holding a source type's definition: kind, OID, array OID, schema, name and
#: an enum's labels or a composite's fields (name, type OID, typmod).
PG_USER_TYPE_METADATA_KEY = b"veil.pg_user_type"
FIRST_NORMAL_OID = 16384
_DECODED: dict[bytes, PgType] = {}
Field = tuple[str, int, int]


def enum_type(oid: int, array_oid: int, schema: str, name: str, labels: tuple[str, ...]) -> PgType:
    """The pg_type row of a source's enum (typtype 'e'), its labels in sort order."""
    return PgType(
        oid=oid,
        name=name,
        length=4,
        array_oid=array_oid,
        category="E",
        by_value=True,
        kind="e",
        input_func="enum_in",
        output_func="enum_out",
        receive_func="enum_recv",
        send_func="enum_send",
        schema=schema,
        labels=tuple(labels),
    )


def composite_type(oid: int, array_oid: int, schema: str, name: str, fields: tuple[Field, ...]) -> PgType:
    """The pg_type row of a source's composite type (typtype 'c'), its fields in order."""
    return PgType(
        oid=oid,
        name=name,
        length=-1,
        array_oid=array_oid,
        category="C",
        align="d",
        kind="c",
        input_func="record_in",
        output_func="record_out",
        receive_func="record_recv",
        send_func="record_send",
        schema=schema,
        fields=tuple(fields),
    )


def user_type(pg_type: PgType) -> PgType | None:
    """The source's enum or composite type ``pg_type`` is, or is an array of; else ``None``."""
    if pg_type.is_user_defined:
        return pg_type
    if pg_type.is_array and pg_type.element_oid >= FIRST_NORMAL_OID:  # (one served before a remapping too)
        element = BY_OID.get(pg_type.element_oid) or _EVER_SERVED.get(pg_type.element_oid)
        return element if element is not None and element.is_user_defined else None
    return None


# Two databases can use one OID for different types (two clusters built by one script, a database
# copied and its enum altered). Such a *contested* type is served in each database under an OID of
# Veil's own (and the next one for its array type) in a reserved range, derived from the
# database and the source's OID: the same for every process reading the same databases, whatever
# order they are read in. A type no other database contests keeps the source's OID.
FIRST_REMAPPED_OID = 2**31 - 2**28
_REMAP_SLOTS = 2**27 - 1
_CLAIMS: dict[str, dict[int, PgType]] = {}  # database -> source OID -> the source's definition
_SERVED: dict[tuple[str, int], PgType] = {}  # (database, source OID of a type or its array) -> served
_EVER_SERVED: dict[int, PgType] = {}  # every type served, by OID: for arrays described before a remapping
_REGISTRY = threading.Lock()
#: Bumped whenever a served OID changes: descriptions cached before it are stale.
TYPE_GENERATION = [0]


def _contested(defined: PgType, claimed: dict[int, list[PgType]]) -> bool:
    """Whether another database uses the type's OID (or its array's) for another type."""
    if not defined.origin[0]:  # of no known database (a catalog stored before databases were told apart)
        return False
    return any(
        theirs.origin[0] not in ("", defined.origin[0]) and theirs != defined
        for oid in (defined.oid, defined.array_oid)
        if oid
        for theirs in claimed.get(oid, ())
    )


def _remapped_oid(database: str, oid: int, taken: set[int]) -> int:
    slot = zlib.crc32(f"{database}\0{oid}".encode()) % _REMAP_SLOTS
    while FIRST_REMAPPED_OID + 2 * slot in taken:
        slot = (slot + 1) % _REMAP_SLOTS
    return FIRST_REMAPPED_OID + 2 * slot


def _resolve() -> None:
    """Serve every claimed type (under its own OID or a remapped one) and index it by OID."""
    global _SERVED  # replaced whole, never changed in place
    served: dict[tuple[str, int], PgType] = {}
    taken: set[int] = set()
    claimed: dict[int, list[PgType]] = {}
    for claims in _CLAIMS.values():
        for defined in claims.values():
            for oid in (defined.oid, defined.array_oid):
                claimed.setdefault(oid, []).append(defined)
    for database in sorted(_CLAIMS):
        for oid, defined in sorted(_CLAIMS[database].items()):
            if any(BY_OID.get(f) is None or f >= FIRST_NORMAL_OID for _, f, _ in defined.fields):
                continue  # a composite with a field of a user type or an unknown one: served as text
            if _contested(defined, claimed):
                new = _remapped_oid(database, oid, taken)
                defined = replace(defined, oid=new, array_oid=new + 1 if defined.array_oid else 0)
                taken.add(new)
            served[(database, oid)] = defined
            if defined.array_oid:
                served[(database, defined.origin[2])] = array_of(defined)
    changed = any(_SERVED.get(key) != value for key, value in served.items())
    oids = {defined.oid for defined in served.values()}
    for defined in served.values():  # added before the stale ones leave: readers never miss a type
        BY_OID[defined.oid] = _EVER_SERVED[defined.oid] = defined
    for old in (old for old in _SERVED.values() if old.oid not in oids):
        BY_OID.pop(old.oid, None)
    _SERVED = served  # one assignment: a reader sees the old mapping or the new one
    if changed:
        _DECODED.clear()
        TYPE_GENERATION[0] += 1


def register_source_types(database: str, types: list[PgType], replace_all: bool = True) -> None:
    """Make a database's enums and composite types (``types``, as the source defines them) known:
    served by OID to RowDescription and the encoders. ``replace_all``: ``types`` are all the
    database has (a type dropped there is forgotten); else those not known yet are added."""
    claims = {t.oid: replace(t, origin=(database, t.oid, t.array_oid)) for t in types if t.is_user_defined}
    with _REGISTRY:
        known = _CLAIMS.get(database, {})
        merged = claims if replace_all else {**claims, **known}  # what the database listed wins
        if merged != known or not _SERVED:
            _CLAIMS[database] = merged
            _resolve()


def served_user_type(database: str, oid: int) -> PgType | None:
    """The type Veil serves for a database's type (or array type) ``oid``; ``None`` when unknown."""
    return _SERVED.get((database, oid))


def register_user_type(pg_type: PgType) -> bool:
    """Make a source's type known (as one of :func:`register_source_types`); whether it is served
    as such (a composite type is only when every field has a built-in type, else it is text)."""
    if not pg_type.is_user_defined:
        return False
    register_source_types(pg_type.origin[0], [pg_type], replace_all=False)
    return served_user_type(pg_type.origin[0], pg_type.origin[1] or pg_type.oid) is not None


def _user_type_metadata(pg_type: PgType) -> bytes:
    details = list(pg_type.labels) if pg_type.kind == "e" else [list(f) for f in pg_type.fields]
    database, oid, array_oid = pg_type.origin if pg_type.origin[1] else ("", pg_type.oid, pg_type.array_oid)
    return json.dumps([pg_type.kind, oid, array_oid, pg_type.schema, pg_type.name, details, database]).encode()


def _decoded_user_type(blob: bytes) -> tuple[PgType, int]:
    """The served type a field's definition stands for, and the source's array OID of it."""
    found = _DECODED.get(blob)
    if found is None:
        kind, oid, array_oid, schema, name, details, *database = json.loads(blob)
        if kind == "e":
            found = enum_type(int(oid), int(array_oid), str(schema), str(name), tuple(str(v) for v in details))
        else:
            fields = tuple((str(f), int(t), int(m)) for f, t, m in details)
            found = composite_type(int(oid), int(array_oid), str(schema), str(name), fields)
        origin = (str(database[0]) if database else "", found.oid, found.array_oid)
        found = replace(found, origin=origin)
        register_source_types(origin[0], [found], replace_all=False)
        found = served_user_type(origin[0], origin[1]) or found
        _DECODED[blob] = found
    return found, found.origin[2]
