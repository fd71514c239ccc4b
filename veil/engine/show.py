"""The result of ``SHOW name`` and ``SHOW ALL``: the session's settings as PostgreSQL lists them."""

from __future__ import annotations

import pyarrow as pa

from veil.api import ResultStream
from veil.engine.schemas import text_schema
from veil.executor.results import RowsStream
from veil.sql.settings import Settings


def show(settings: Settings, name: str) -> ResultStream:
    """One setting's value, or with ``name`` ``"all"`` every setting with its description."""
    if name == "all":
        rows = settings.show_all()
        schema = text_schema("name", "setting", "description")
        batch = pa.RecordBatch.from_arrays(
            [pa.array([r[i] for r in rows], pa.string()) for i in range(3)], schema=schema
        )
        return RowsStream(schema, [batch], "SHOW")
    schema = text_schema(name)
    return RowsStream(
        schema, [pa.RecordBatch.from_arrays([pa.array([settings.get(name)], pa.string())], schema=schema)], "SHOW"
    )
