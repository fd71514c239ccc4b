"""The tag store now lives in :mod:`veil.state.tagstore` (object sync writes source tags into it,
and the catalog layer sits below discovery); this module keeps the old import path working."""

from veil.state.tagstore import (
    ORIGIN_CONFIG,
    ORIGIN_DISCOVERY,
    ORIGIN_SOURCE,
    STORE_FILE,
    TABLE_TAG_COLUMN,
    ColumnChange,
    ColumnFinding,
    DiscoveredTags,
    Rejection,
    StoredTag,
    TagStore,
    read_discovered,
    read_version,
    store_path,
)

__all__ = [
    "ORIGIN_CONFIG",
    "ORIGIN_DISCOVERY",
    "ORIGIN_SOURCE",
    "STORE_FILE",
    "TABLE_TAG_COLUMN",
    "ColumnChange",
    "ColumnFinding",
    "DiscoveredTags",
    "Rejection",
    "StoredTag",
    "TagStore",
    "read_discovered",
    "read_version",
    "store_path",
]
