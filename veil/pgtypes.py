"""PostgreSQL's core data types and how Arrow types map onto them.

One registry serves the wire encoders (RowDescription OIDs), the catalog emulation (pg_type,
pg_attribute.atttypid, format_type) and parameter decoding, so a column is described the same
way everywhere. Only core OIDs (< 16384) are ever emitted: drivers know them without asking the
server (asyncpg and pgJDBC would otherwise run type-introspection queries).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field

import pyarrow as pa


@dataclass(frozen=True)
class PgType:
    """A row of pg_type, reduced to what clients read."""

    oid: int
    name: str
    length: int  # typlen: bytes, -1 varlena, -2 cstring
    array_oid: int  # typarray (0 when none)
    category: str  # typcategory
    element_oid: int = 0  # typelem (for array types)
    by_value: bool = False
    align: str = "i"
    kind: str = "b"  # typtype
    delimiter: str = ","
    input_func: str = ""
    output_func: str = ""
    receive_func: str = ""
    send_func: str = ""
    # A user-defined type of a PostgreSQL source (an enum or a composite type): its schema there,
    # an enum's labels in sort order, a composite's fields (name, type OID, typmod). Built-in
    # types live in pg_catalog and have none.
    schema: str = "pg_catalog"
    labels: tuple[str, ...] = ()
    fields: tuple[tuple[str, int, int], ...] = ()
    # A source's type: its database ("host:port/database") and its OID and array OID there, which
    # Veil serves under OIDs of its own when another database uses them for another type.
    origin: tuple[str, int, int] = dataclass_field(default=("", 0, 0), compare=False)

    @property
    def is_array(self) -> bool:
        return self.element_oid != 0 and self.name.startswith("_")

    @property
    def is_enum(self) -> bool:
        return self.kind == "e"

    @property
    def is_user_defined(self) -> bool:
        """A source's enum or composite type (no built-in type has typtype 'e' or 'c')."""
        return self.kind in ("e", "c")


def _scalar(
    oid: int,
    name: str,
    length: int,
    array_oid: int,
    category: str,
    by_value: bool = False,
    align: str = "i",
    kind: str = "b",
    io: str | None = None,
) -> PgType:
    base = io or name
    return PgType(
        oid=oid,
        name=name,
        length=length,
        array_oid=array_oid,
        category=category,
        by_value=by_value,
        align=align,
        kind=kind,
        input_func=f"{base}in",
        output_func=f"{base}out",
        receive_func=f"{base}recv",
        send_func=f"{base}send",
    )


_SCALARS: tuple[PgType, ...] = (
    _scalar(16, "bool", 1, 1000, "B", True, "c", io="bool"),
    _scalar(17, "bytea", -1, 1001, "U", io="bytea"),
    _scalar(18, "char", 1, 1002, "Z", True, "c", io="char"),
    _scalar(19, "name", 64, 1003, "S", align="c", io="name"),
    _scalar(20, "int8", 8, 1016, "N", True, "d", io="int8"),
    _scalar(21, "int2", 2, 1005, "N", True, "s", io="int2"),
    _scalar(22, "int2vector", -1, 1006, "A", io="int2vector"),
    _scalar(23, "int4", 4, 1007, "N", True, io="int4"),
    _scalar(24, "regproc", 4, 1008, "N", True, io="regproc"),
    _scalar(25, "text", -1, 1009, "S", io="text"),
    _scalar(26, "oid", 4, 1028, "N", True, io="oid"),
    _scalar(27, "tid", 6, 1010, "U", align="s", io="tid"),
    _scalar(28, "xid", 4, 1011, "U", True, io="xid"),
    _scalar(29, "cid", 4, 1012, "U", True, io="cid"),
    _scalar(30, "oidvector", -1, 1013, "A", io="oidvector"),
    _scalar(114, "json", -1, 199, "U", io="json"),
    _scalar(142, "xml", -1, 143, "U", io="xml"),
    _scalar(194, "pg_node_tree", -1, 0, "Z", io="pg_node_tree"),
    _scalar(600, "point", 16, 1017, "G", align="d", io="point"),
    _scalar(650, "cidr", -1, 651, "I", io="cidr"),
    _scalar(700, "float4", 4, 1021, "N", True, io="float4"),
    _scalar(701, "float8", 8, 1022, "N", True, "d", io="float8"),
    _scalar(705, "unknown", -2, 0, "X", align="c", kind="p", io="unknown"),
    _scalar(790, "money", 8, 791, "N", True, "d", io="cash"),
    _scalar(829, "macaddr", 6, 1040, "U", io="macaddr"),
    _scalar(869, "inet", -1, 1041, "I", io="inet"),
    _scalar(1033, "aclitem", 12, 1034, "U", io="aclitem"),
    _scalar(1042, "bpchar", -1, 1014, "S", io="bpchar"),
    _scalar(1043, "varchar", -1, 1015, "S", io="varchar"),
    _scalar(1082, "date", 4, 1182, "D", True, io="date"),
    _scalar(1083, "time", 8, 1183, "D", True, "d", io="time"),
    _scalar(1114, "timestamp", 8, 1115, "D", True, "d", io="timestamp"),
    _scalar(1184, "timestamptz", 8, 1185, "D", True, "d", io="timestamptz"),
    _scalar(1186, "interval", 16, 1187, "T", align="d", io="interval"),
    _scalar(1266, "timetz", 12, 1270, "D", align="d", io="timetz"),
    _scalar(1560, "bit", -1, 1561, "V", io="bit"),
    _scalar(1562, "varbit", -1, 1563, "V", io="varbit"),
    _scalar(1700, "numeric", -1, 1231, "N", io="numeric"),
    _scalar(1790, "refcursor", -1, 2201, "U", io="textin"),
    _scalar(2202, "regprocedure", 4, 2207, "N", True, io="regprocedure"),
    _scalar(2203, "regoper", 4, 2208, "N", True, io="regoper"),
    _scalar(2204, "regoperator", 4, 2209, "N", True, io="regoperator"),
    _scalar(2205, "regclass", 4, 2210, "N", True, io="regclass"),
    _scalar(2206, "regtype", 4, 2211, "N", True, io="regtype"),
    _scalar(2249, "record", -1, 2287, "P", align="d", kind="p", io="record_"),
    _scalar(2275, "cstring", -2, 1263, "P", align="c", kind="p", io="cstring_"),
    _scalar(2276, "any", 4, 0, "P", True, kind="p", io="any_"),
    _scalar(2277, "anyarray", -1, 0, "P", align="d", kind="p", io="anyarray_"),
    _scalar(2278, "void", 4, 0, "P", True, kind="p", io="void_"),
    _scalar(2950, "uuid", 16, 2951, "U", align="c", io="uuid_"),
    _scalar(3220, "pg_lsn", 8, 3221, "U", True, "d", io="pg_lsn_"),
    _scalar(3614, "tsvector", -1, 3643, "U", io="tsvector"),
    _scalar(3802, "jsonb", -1, 3807, "U", io="jsonb_"),
    _scalar(4089, "regnamespace", 4, 4090, "N", True, io="regnamespace"),
    _scalar(4096, "regrole", 4, 4097, "N", True, io="regrole"),
    # Types a PostgreSQL source's table can hold (served with their own OID, values in the
    # source's own text form).
    _scalar(601, "lseg", 32, 1018, "G", align="d", io="lseg_"),
    _scalar(602, "path", -1, 1019, "G", align="d", io="path_"),
    _scalar(603, "box", 32, 1020, "G", align="d", io="box_"),
    _scalar(604, "polygon", -1, 1027, "G", align="d", io="poly_"),
    _scalar(628, "line", 24, 629, "G", align="d", io="line_"),
    _scalar(718, "circle", 24, 719, "G", align="d", io="circle_"),
    _scalar(774, "macaddr8", 8, 775, "U", io="macaddr8_"),
    _scalar(2970, "txid_snapshot", -1, 2949, "U", align="d", io="txid_snapshot_"),
    _scalar(3615, "tsquery", -1, 3645, "U", io="tsquery"),
    _scalar(3734, "regconfig", 4, 3735, "N", True, io="regconfig"),
    _scalar(3769, "regdictionary", 4, 3770, "N", True, io="regdictionary"),
    _scalar(3904, "int4range", -1, 3905, "R", kind="r", io="range_"),
    _scalar(3906, "numrange", -1, 3907, "R", kind="r", io="range_"),
    _scalar(3908, "tsrange", -1, 3909, "R", align="d", kind="r", io="range_"),
    _scalar(3910, "tstzrange", -1, 3911, "R", align="d", kind="r", io="range_"),
    _scalar(3912, "daterange", -1, 3913, "R", kind="r", io="range_"),
    _scalar(3926, "int8range", -1, 3927, "R", align="d", kind="r", io="range_"),
    _scalar(4072, "jsonpath", -1, 4073, "U", io="jsonpath_"),
    _scalar(4191, "regcollation", 4, 4192, "N", True, io="regcollation"),
    _scalar(4451, "int4multirange", -1, 6150, "R", kind="m", io="multirange_"),
    _scalar(4532, "nummultirange", -1, 6151, "R", kind="m", io="multirange_"),
    _scalar(4533, "tsmultirange", -1, 6152, "R", align="d", kind="m", io="multirange_"),
    _scalar(4534, "tstzmultirange", -1, 6153, "R", align="d", kind="m", io="multirange_"),
    _scalar(4535, "datemultirange", -1, 6155, "R", kind="m", io="multirange_"),
    _scalar(4536, "int8multirange", -1, 6157, "R", align="d", kind="m", io="multirange_"),
    _scalar(5038, "pg_snapshot", -1, 5039, "U", align="d", io="pg_snapshot_"),
    _scalar(5069, "xid8", 8, 271, "U", True, "d", io="xid8"),
)


def array_of(element: PgType) -> PgType:
    return PgType(
        oid=element.array_oid,
        name="_" + element.name,
        schema=element.schema,
        length=-1,
        array_oid=0,
        category="A",
        element_oid=element.oid,
        align="d" if element.align == "d" else "i",
        delimiter=element.delimiter,
        input_func="array_in",
        output_func="array_out",
        receive_func="array_recv",
        send_func="array_send",
    )


ALL_TYPES: tuple[PgType, ...] = _SCALARS + tuple(array_of(t) for t in _SCALARS if t.array_oid)
BY_OID: dict[int, PgType] = {t.oid: t for t in ALL_TYPES}
BY_NAME: dict[str, PgType] = {t.name: t for t in ALL_TYPES}

BOOL = BY_NAME["bool"]
BYTEA = BY_NAME["bytea"]
INT2 = BY_NAME["int2"]
INT4 = BY_NAME["int4"]
INT8 = BY_NAME["int8"]
FLOAT4 = BY_NAME["float4"]
FLOAT8 = BY_NAME["float8"]
NUMERIC = BY_NAME["numeric"]
TEXT = BY_NAME["text"]
VARCHAR = BY_NAME["varchar"]
NAME = BY_NAME["name"]
OID = BY_NAME["oid"]
CHAR = BY_NAME["char"]
DATE = BY_NAME["date"]
TIME = BY_NAME["time"]
TIMESTAMP = BY_NAME["timestamp"]
TIMESTAMPTZ = BY_NAME["timestamptz"]
INTERVAL = BY_NAME["interval"]
UUID = BY_NAME["uuid"]
JSON = BY_NAME["json"]
JSONB = BY_NAME["jsonb"]
UNKNOWN = BY_NAME["unknown"]
RECORD_OID = 2249

# Arrow field metadata key that pins a column's PostgreSQL type (the catalog emulation uses it
# for oid, name and "char" columns whose Arrow type alone would say int8/text).
PG_TYPE_METADATA_KEY = b"veil.pg_type_oid"
# ... and its type modifier (varchar(40), numeric(12,2), timestamp(3) ...), when it has one.
PG_TYPMOD_METADATA_KEY = b"veil.pg_typmod"
# Field metadata keys for RowDescription's table OID and attribute number of a column read
# straight from a table (see veil.sql.origins); absent means 0, as for computed columns.
TABLE_OID_METADATA_KEY = b"veil.table_oid"
ATTNUM_METADATA_KEY = b"veil.attnum"


def column_origin(field: pa.Field) -> tuple[int, int]:
    """RowDescription's (table OID, attribute number) of a result field."""
    metadata = field.metadata or {}
    table = metadata.get(TABLE_OID_METADATA_KEY)
    attnum = metadata.get(ATTNUM_METADATA_KEY)
    return (int(table), int(attnum)) if table is not None and attnum is not None else (0, 0)

# SQL spelling of a type, as format_type() prints it (without modifiers).
SQL_NAMES: dict[str, str] = {
    "bool": "boolean",
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "varchar": "character varying",
    "bpchar": "character",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "time": "time without time zone",
    "timetz": "time with time zone",
    "char": '"char"',
    "varbit": "bit varying",
}


@dataclass(frozen=True)
class ColumnType:
    """A PostgreSQL column type: the pg_type row plus atttypmod (-1 when none)."""

    type: PgType
    typmod: int = -1

    @property
    def oid(self) -> int:
        return self.type.oid

    def format(self) -> str:
        """``format_type(oid, typmod)``: how psql's ``\\d`` shows the type."""
        if self.type.is_user_defined:
            return _user_type_name(self.type)
        return format_type(self.type.oid, self.typmod)


_PLAIN_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_$]*")


def _quoted(name: str) -> str:
    return name if _PLAIN_IDENTIFIER.fullmatch(name) else '"' + name.replace('"', '""') + '"'


def _user_type_name(pg_type: PgType) -> str:
    """``format_type`` of a source's own type: schema-qualified unless in ``public`` (what
    PostgreSQL prints with its default search_path)."""
    name = _quoted(pg_type.name)
    return name if pg_type.schema == "public" else f"{_quoted(pg_type.schema)}.{name}"


def numeric_typmod(precision: int, scale: int) -> int:
    return ((precision << 16) | scale) + 4


def format_type(oid: int, typmod: int = -1) -> str:
    pg_type = BY_OID.get(oid)
    if pg_type is None:
        return "???"
    if pg_type.is_array:
        return format_type(pg_type.element_oid, typmod) + "[]"
    if pg_type.is_user_defined:
        return _user_type_name(pg_type)
    name = SQL_NAMES.get(pg_type.name, pg_type.name)
    if pg_type.name == "numeric" and typmod >= 4:
        packed = typmod - 4
        return f"numeric({packed >> 16},{packed & 0xFFFF})"
    if pg_type.name in ("varchar", "bpchar") and typmod >= 4:
        return f"{name}({typmod - 4})"
    if pg_type.name in ("bit", "varbit") and typmod >= 0:
        return f"{name}({typmod})"
    if pg_type.name in ("time", "timetz", "timestamp", "timestamptz") and typmod >= 0:
        head, _, zone = name.partition(" ")
        return f"{head}({typmod}) {zone}" if zone else f"{name}({typmod})"
    if pg_type.name == "interval" and typmod >= 0:
        return _interval_format(typmod)
    return name


# Interval typmods: a field mask in the high 16 bits, the precision (0xFFFF = none) in the low.
_INTERVAL_FIELDS: dict[int, str] = {
    1 << 2: " year", 1 << 1: " month", 1 << 3: " day", 1 << 10: " hour", 1 << 11: " minute",
    1 << 12: " second", (1 << 2) | (1 << 1): " year to month", (1 << 3) | (1 << 10): " day to hour",
    (1 << 3) | (1 << 10) | (1 << 11): " day to minute",
    (1 << 3) | (1 << 10) | (1 << 11) | (1 << 12): " day to second",
    (1 << 10) | (1 << 11): " hour to minute", (1 << 10) | (1 << 11) | (1 << 12): " hour to second",
    (1 << 11) | (1 << 12): " minute to second",
}


def _interval_format(typmod: int) -> str:
    """``format_type`` for an interval with fields and/or a precision."""
    fields, precision = (typmod >> 16) & 0x7FFF, typmod & 0xFFFF
    text = "interval" + _INTERVAL_FIELDS.get(fields, "")
    return text if precision == 0xFFFF else f"{text}({precision})"


def _is_json_extension(arrow_type: pa.DataType) -> bool:
    return getattr(arrow_type, "extension_name", "") in ("arrow.json", "duckdb.json")


def column_type_for_arrow(arrow_type: pa.DataType) -> ColumnType:
    """Map an Arrow type to the PostgreSQL column type Veil reports for it."""
    if isinstance(arrow_type, pa.BaseExtensionType):
        name = arrow_type.extension_name
        if name in ("arrow.uuid", "duckdb.uuid"):
            return ColumnType(UUID)
        if _is_json_extension(arrow_type):
            return ColumnType(JSON)
        return column_type_for_arrow(arrow_type.storage_type)
    t = pa.types
    if t.is_boolean(arrow_type):
        return ColumnType(BOOL)
    if t.is_int8(arrow_type) or t.is_int16(arrow_type) or t.is_uint8(arrow_type):
        return ColumnType(INT2)
    if t.is_int32(arrow_type) or t.is_uint16(arrow_type):
        return ColumnType(INT4)
    if t.is_int64(arrow_type) or t.is_uint32(arrow_type):
        return ColumnType(INT8)
    if t.is_uint64(arrow_type):
        return ColumnType(NUMERIC, numeric_typmod(20, 0))
    if t.is_float16(arrow_type) or t.is_float32(arrow_type):
        return ColumnType(FLOAT4)
    if t.is_float64(arrow_type):
        return ColumnType(FLOAT8)
    if t.is_decimal(arrow_type):
        return ColumnType(NUMERIC, numeric_typmod(arrow_type.precision, arrow_type.scale))
    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or t.is_string_view(arrow_type):
        return ColumnType(TEXT)
    if (
        t.is_binary(arrow_type)
        or t.is_large_binary(arrow_type)
        or t.is_binary_view(arrow_type)
    ):
        return ColumnType(BYTEA)
    if t.is_fixed_size_binary(arrow_type):
        return ColumnType(UUID) if arrow_type.byte_width == 16 else ColumnType(BYTEA)
    if t.is_date(arrow_type):
        return ColumnType(DATE)
    if t.is_time(arrow_type):
        return ColumnType(TIME)
    if t.is_timestamp(arrow_type):
        return ColumnType(TIMESTAMPTZ if arrow_type.tz is not None else TIMESTAMP)
    if t.is_duration(arrow_type) or t.is_interval(arrow_type):
        return ColumnType(INTERVAL)
    if t.is_list(arrow_type) or t.is_large_list(arrow_type) or t.is_fixed_size_list(arrow_type):
        element = column_type_for_arrow(arrow_type.value_type)
        if element.type.is_array or not element.type.array_oid:
            return ColumnType(TEXT)
        return ColumnType(BY_OID[element.type.array_oid], element.typmod)
    if t.is_struct(arrow_type) or t.is_map(arrow_type):
        return ColumnType(JSON)
    if t.is_dictionary(arrow_type):
        return column_type_for_arrow(arrow_type.value_type)
    return ColumnType(TEXT)


def quoted_element(value: object) -> str:
    """A Python value as a double-quoted element of an array's or a record's text form."""
    if isinstance(value, bool):
        text = "t" if value else "f"
    else:
        text = "\\x" + value.hex() if isinstance(value, bytes) else str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Interval:
    """A PostgreSQL interval that has months (which a ``timedelta`` cannot hold): a parameter's
    value as the protocol decoder gives it to the sources."""

    months: int = 0
    days: int = 0
    microseconds: int = 0

    def text(self) -> str:
        """The interval as text both PostgreSQL and DuckDB read (``1 month 2 days 3 microseconds``)."""
        return f"{self.months} months {self.days} days {self.microseconds} microseconds"
