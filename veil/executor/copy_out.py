"""``COPY (query) TO STDOUT``: the query's result stream, marked for the wire front end to send
with the COPY protocol (CopyOutResponse, CopyData, CopyDone) in the format the statement asked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pyarrow as pa

from veil.api import ResultStream
from veil.sql.utility_specs import CopySpec


class CopyStream:
    """A result stream whose rows go out as COPY data; ``copy`` says how."""

    def __init__(self, stream: ResultStream, copy: CopySpec) -> None:
        self.stream = stream
        self.copy = copy
        self.schema: pa.Schema | None = stream.schema

    async def __aiter__(self) -> AsyncIterator[pa.RecordBatch]:
        async for batch in self.stream:
            yield batch

    def command_tag(self, rows_sent: int) -> str:
        return f"COPY {rows_sent}"

    async def close(self) -> None:
        await self.stream.close()
