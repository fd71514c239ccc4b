"""Result schemas as a session describes them to the client."""

from __future__ import annotations

import pyarrow as pa


def text_schema(*names: str) -> pa.Schema:
    """Columns of text (SHOW, EXPLAIN)."""
    return pa.schema([pa.field(name, pa.string()) for name in names])


def renamed(schema: pa.Schema, names: list[str]) -> pa.Schema:
    """``schema`` with its columns named ``names``."""
    if names == schema.names:
        return schema
    return pa.schema([field.with_name(name) for field, name in zip(schema, names, strict=True)])


def describable(schema: pa.Schema) -> pa.Schema:
    """Columns whose type is unknown until run (``SELECT $1``) are described as text."""
    fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in schema]
    return pa.schema(fields)
