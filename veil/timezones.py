"""PostgreSQL's TimeZone setting, and what each engine Veil computes with calls that zone.

PostgreSQL takes three spellings (checked against PostgreSQL 15):

* an IANA zone name (``Europe/Berlin``, ``UTC``), shown as given;
* a number of hours *east* of UTC (``SET TimeZone = 5.5``, or the string ``'-2'``), shown as a
  POSIX spec (``<+05:30>-05:30``, ``<-02>+02``);
* a POSIX-style spec with a fixed offset (``UTC+3``, ``<+0330>-03:30``, ``+05:30``), shown as
  given, whose offset counts hours *west* of Greenwich, the opposite of ISO 8601: ``UTC+3`` and
  ``+05:30`` are three and five and a half hours *behind* UTC.

:func:`zone` reads a setting once (cached) into a :class:`Zone` that names it for DuckDB's ICU
(``Europe/Berlin``, ``GMT-05:30``), for Arrow (``Europe/Berlin``, ``-05:30``) and as a Python
``tzinfo``. POSIX specs with daylight-saving rules (``EST5EDT4``, ``UTC+3DST``) are refused:
they are not a zone any of those engines knows.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache

from veil.errcodes import InvalidParameterValue

#: Spellings of UTC that PostgreSQL and every engine agree on (Veil shows them as ``UTC``).
UTC_NAMES = frozenset({"UTC", "GMT", "Z", "ZULU"})

# A POSIX spec without daylight-saving part: optional standard name (<...> or 3+ letters),
# offset west of Greenwich [+-]hh[:mm].
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_POSIX = re.compile(r"(?:<[A-Za-z0-9:+-]+>|[A-Za-z]{3,})?([+-]?)(\d{1,2})(?::(\d{2}))?")


@dataclass(frozen=True)
class Zone:
    """A session zone: an IANA ``name``, or (``name`` None) a fixed ``offset`` in seconds east of UTC."""

    name: str | None
    offset: int = 0

    @property
    def fixed(self) -> str:
        """The fixed offset as ISO 8601 writes it (``+05:30``, ``-03:00``)."""
        sign = "-" if self.offset < 0 else "+"
        hours, minutes = divmod(abs(self.offset) // 60, 60)
        return f"{sign}{hours:02d}:{minutes:02d}"

    @property
    def duckdb(self) -> str:
        """The zone as DuckDB's ``SET TimeZone`` takes it (ICU: a custom ``GMT±hh:mm`` for offsets)."""
        return self.name if self.name is not None else f"GMT{self.fixed}"

    @property
    def arrow(self) -> str:
        """The zone as an Arrow timestamp type's ``tz`` takes it."""
        return self.name if self.name is not None else self.fixed

    @property
    def tzinfo(self) -> dt.tzinfo:
        if self.name is None:
            return dt.timezone(dt.timedelta(seconds=self.offset))
        if self.name == "UTC":
            return dt.UTC
        return zoneinfo.ZoneInfo(self.name)


UTC = Zone("UTC")


def wall_clock_instant(naive: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The instant a wall-clock time names in ``zone``, as PostgreSQL reads it: a time that
    occurs twice (autumn) is the second, standard-time one; a time skipped (spring) is read
    with the offset before the change (02:30 in New York is 07:30 UTC, shown 03:30-04)."""
    first, second = naive.replace(tzinfo=zone), naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    occurs = first.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) == naive
    return second if occurs else first


def normalize(value: str) -> str:
    """``value`` as PostgreSQL's SHOW TimeZone prints it after ``SET TimeZone = value``;
    22023 when it is no zone."""
    text = value.strip()
    if text.upper() in UTC_NAMES:
        return "UTC"
    if _NUMBER.fullmatch(text) is None:
        zone(text)  # refuses what is no zone
        return text
    # hours east of UTC, shown as PostgreSQL shows it: <+05:30>-05:30
    minutes = round(float(text) * 60)
    if abs(minutes) >= 24 * 60:
        raise InvalidParameterValue(f'invalid value for parameter "TimeZone": "{value}"')
    east = "-" if minutes < 0 else "+"
    spelled = f"{abs(minutes) // 60:02d}" + (f":{abs(minutes) % 60:02d}" if minutes % 60 else "")
    return f"<{east}{spelled}>{'+' if east == '-' else '-'}{spelled}"


@lru_cache(maxsize=256)
def zone(setting: str) -> Zone:
    """The zone a (normalized) TimeZone setting names; 22023 when none."""
    if setting.upper() in UTC_NAMES or setting in ("Etc/UTC", "UCT", "Universal"):
        return UTC
    try:
        zoneinfo.ZoneInfo(setting)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    else:
        return Zone(setting)
    match = _POSIX.fullmatch(setting)
    if match is None:
        raise InvalidParameterValue(f'invalid value for parameter "TimeZone": "{setting}"')
    sign, hours, minutes = match.groups()
    west = int(hours) * 3600 + int(minutes or 0) * 60
    if int(hours) > 23 or int(minutes or 0) > 59:
        raise InvalidParameterValue(f'invalid value for parameter "TimeZone": "{setting}"')
    return Zone(None, west if sign == "-" else -west)
