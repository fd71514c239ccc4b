"""The function registry with every builder module loaded (they register on import)."""

from veil.pgcatalog import fn_arrays, fn_catalog, fn_session, fn_tables
from veil.pgcatalog.functions import REGISTRY

__all__ = ["REGISTRY", "fn_arrays", "fn_catalog", "fn_session", "fn_tables"]
