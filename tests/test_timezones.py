"""veil.timezones against PostgreSQL itself: how each TimeZone spelling is shown, the offset a
fixed one names (POSIX signs inverted), what is refused, and which instant a wall-clock time
names across daylight-saving changes."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from veil import timezones
from veil.errcodes import InvalidParameterValue

SPELLINGS = (
    "UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "+05:30", "-05:30", "UTC+3", "UTC-3",
    "GMT+2", "<+0330>-03:30", "<-02>+02", "ABC+4:15", "Etc/GMT+3", "EST5EDT", "-2", "5.5", "-3.5", "0", "10.25",
)  # fmt: skip
REFUSED = ("XYZ", "Mars/Olympus", "UTC+3DST", "EST5EDT4", "+05:30:15", "25")


def _postgres(dsn: str, setting: str) -> tuple[str, int]:
    """PostgreSQL's SHOW TimeZone after the SET, and its UTC offset in July (seconds east)."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        value = setting if timezones._NUMBER.fullmatch(setting) else f"'{setting}'"
        connection.execute(f"SET TimeZone = {value}")
        shown = connection.execute("SHOW TimeZone").fetchone()
        offset = connection.execute("SELECT extract(timezone FROM '2020-07-01 12:00+00'::timestamptz)::int").fetchone()
        assert shown is not None and offset is not None
        return str(shown[0]), int(offset[0])


@pytest.mark.parametrize("setting", SPELLINGS)
def test_a_spelling_is_shown_and_offset_as_postgresql(postgres_dsn: str, setting: str) -> None:
    shown, offset = _postgres(postgres_dsn, setting)
    assert timezones.normalize(setting) == shown
    zone = timezones.zone(timezones.normalize(setting))
    moment = dt.datetime(2020, 7, 1, 12, tzinfo=dt.UTC)
    assert moment.astimezone(zone.tzinfo).utcoffset() == dt.timedelta(seconds=offset)


@pytest.mark.parametrize("setting", REFUSED)
def test_what_veil_cannot_read_is_refused(setting: str) -> None:
    with pytest.raises(InvalidParameterValue):
        timezones.zone(timezones.normalize(setting))


def test_fixed_offsets_are_named_for_duckdb_and_arrow() -> None:
    """POSIX's UTC+3 is three hours *behind* UTC: ICU's GMT-03:00, Arrow's -03:00."""
    assert (timezones.zone("UTC+3").duckdb, timezones.zone("UTC+3").arrow) == ("GMT-03:00", "-03:00")
    assert (timezones.zone("+05:30").duckdb, timezones.zone("+05:30").arrow) == ("GMT-05:30", "-05:30")
    assert timezones.zone("<+05:30>-05:30").arrow == "+05:30"
    assert timezones.zone("Europe/Berlin").duckdb == "Europe/Berlin"


@pytest.mark.parametrize(
    ("zone", "wall_clock"),
    [
        ("America/New_York", "2020-11-01 01:30"),  # twice: PostgreSQL takes standard time
        ("America/New_York", "2020-03-08 02:30"),  # skipped
        ("Europe/Berlin", "2020-10-25 02:30"),
        ("Europe/Berlin", "2020-03-29 02:30"),
        ("Australia/Lord_Howe", "2020-04-05 01:45"),  # a half-hour change
        ("Asia/Kolkata", "2020-03-29 02:30"),
    ],
)
def test_a_wall_clock_time_names_the_instant_postgresql_reads(postgres_dsn: str, zone: str, wall_clock: str) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"SET TimeZone = '{zone}'")
        row = connection.execute(f"SELECT extract(epoch FROM '{wall_clock}'::timestamptz)::bigint").fetchone()
    assert row is not None
    instant = timezones.wall_clock_instant(dt.datetime.fromisoformat(wall_clock), timezones.zone(zone).tzinfo)
    assert int(instant.timestamp()) == row[0]
