"""Vectorised PostgreSQL wire codec: Arrow record batches to RowDescription/DataRow messages,
and Bind parameters to Python values.

* :func:`row_description` -- the 'T' message for a result schema.
* :func:`encode_data_rows` -- every 'D' message of a record batch, text or binary per column,
  without a per-value Python loop.
* :func:`decode_parameter` -- one Bind parameter (text or binary) to a Python value.
"""

from veil.proxy.codec.datarow import encode_data_rows, expand_formats, row_description
from veil.proxy.codec.params import Interval, decode_parameter

__all__ = [
    "Interval",
    "decode_parameter",
    "encode_data_rows",
    "expand_formats",
    "row_description",
]
