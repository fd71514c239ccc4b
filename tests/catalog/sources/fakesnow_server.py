"""Run fakesnow's server with one fix (run by the fakesnow venv's Python, not Veil's).

fakesnow 0.12.1 in server mode returns NULL TIMESTAMP_NTZ/TZ values as 1970-01-01: its
``timestamp_to_sf_struct`` builds the ``{epoch, fraction[, timezone]}`` struct the connector
decodes without a validity mask (see /work/shared/research/backends.md §1.4). The patch keeps the
struct's NULLs so the connector sees NULL, as it would from a real Snowflake.

Usage: python fakesnow_server.py PORT
"""

from __future__ import annotations

import sys

import fakesnow.arrow
import fakesnow.server
import pyarrow as pa
import pyarrow.compute as pc
import uvicorn

_original = fakesnow.arrow.timestamp_to_sf_struct


def timestamp_to_sf_struct(ts: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(ts, pa.ChunkedArray):
        ts = ts.combine_chunks()
    struct = _original(ts)
    if ts.null_count == 0:
        return struct
    fields = list(struct.type)
    arrays = [struct.field(i) for i in range(struct.type.num_fields)]
    return pa.StructArray.from_arrays(arrays, fields=fields, mask=pc.is_null(ts))


fakesnow.arrow.timestamp_to_sf_struct = timestamp_to_sf_struct

if __name__ == "__main__":
    uvicorn.run(fakesnow.server.app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
