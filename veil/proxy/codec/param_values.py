"""Python values for PostgreSQL date/time quantities, shared by the text and binary decoders."""

from __future__ import annotations

import datetime as dt

from veil import errcodes
from veil.errors import VeilError
from veil.pgtypes import Interval

PG_EPOCH = dt.datetime(2000, 1, 1)
PG_EPOCH_DATE = PG_EPOCH.date()
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def interval_value(months: int, days: int, microseconds: int) -> dt.timedelta | Interval:
    """``timedelta`` when there are no months, else :class:`Interval`."""
    if months:
        return Interval(months, days, microseconds)
    return dt.timedelta(days=days, microseconds=microseconds)


def out_of_range(kind: str) -> VeilError:
    return errcodes.DatetimeFieldOverflow(f"{kind} out of range")


def date_from_days(days: int) -> dt.date:
    """Days since 2000-01-01 (PostgreSQL's date) as ``date``; infinities as ``date.max/min``."""
    if days == INT32_MAX:
        return dt.date.max
    if days == INT32_MIN:
        return dt.date.min
    try:
        return PG_EPOCH_DATE + dt.timedelta(days=days)
    except OverflowError:
        raise out_of_range("date") from None


def timestamp_from_micros(usecs: int, aware: bool) -> dt.datetime:
    """Microseconds since 2000-01-01 as ``datetime`` (UTC-aware for timestamptz)."""
    if usecs == INT64_MAX:
        value = dt.datetime.max
    elif usecs == INT64_MIN:
        value = dt.datetime.min
    else:
        try:
            value = PG_EPOCH + dt.timedelta(microseconds=usecs)
        except OverflowError:
            raise out_of_range("timestamp") from None
    return value.replace(tzinfo=dt.UTC) if aware else value
