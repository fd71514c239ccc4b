"""Vectorised validators: checksums and structural rules a regex alone cannot express.

Each validator takes the values its pattern's regex already matched and returns a boolean numpy
array, one entry per value. None of them loops over values in Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from veil.discovery.vector import (
    as_strings,
    digit_matrix,
    digits_only,
    int_groups,
    lengths,
    matches,
    right_aligned,
)

Validator = Callable[[pa.Array], np.ndarray]

# Issuer identification numbers of the major card networks (Visa, Mastercard incl. 2-series,
# Amex, Discover, Diners, JCB, UnionPay, Maestro). A Luhn-valid number without one is far more
# likely an internal reference than a card.
_CARD_PREFIX = (
    r"^(?:4|5[1-5]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|3[47]|30[0-5]|3[689]|35|"
    r"6011|64[4-9]|65|62|5[06-8]|6[37])"
)


def luhn(values: pa.Array) -> np.ndarray:
    """Luhn (mod 10) check of digit strings of up to 19 digits."""
    digits = digit_matrix(values, 20)[:, ::-1]  # rightmost (check) digit first
    doubled = digits[:, 1::2] * 2
    doubled -= 9 * (doubled > 9)
    return (digits[:, 0::2].sum(axis=1) + doubled.sum(axis=1)) % 10 == 0


def card_number(values: pa.Array) -> np.ndarray:
    """13–19 digits (separators allowed), a known issuer prefix and a valid Luhn check digit."""
    digits = digits_only(values)
    count = lengths(digits)
    ok = (count >= 13) & (count <= 19) & matches(digits, _CARD_PREFIX)
    ok[ok] = luhn(digits.filter(pa.array(ok)))
    return ok


# IBAN lengths per country (SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}
_IBAN_WIDTH = 34


def _compact_upper(values: pa.Array) -> pa.StringArray:
    return pc.utf8_upper(pc.replace_substring(as_strings(values), " ", ""))


def iban(values: pa.Array) -> np.ndarray:
    """Country code with its registered length, and the ISO 7064 mod-97 check (remainder 1)."""
    compact = _compact_upper(values)
    countries = pc.utf8_slice_codeunits(compact, 0, 2)
    expected = pc.fill_null(
        pc.index_in(countries, pa.array(list(IBAN_LENGTHS))), -1
    ).to_numpy(zero_copy_only=False)
    table = np.array([*list(IBAN_LENGTHS.values()), 0])
    ok = (expected >= 0) & (table[expected] == lengths(compact))
    if not ok.any():
        return ok
    candidates = compact.filter(pa.array(ok))
    rotated = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(candidates, 4), pc.utf8_slice_codeunits(candidates, 0, 4), ""
    )
    chars = right_aligned(rotated, _IBAN_WIDTH).astype(np.int64)
    is_digit = chars < ord("A")
    value = np.where(is_digit, chars - ord("0"), chars - ord("A") + 10)
    remainder = np.zeros(len(candidates), dtype=np.int64)
    for column in range(_IBAN_WIDTH):  # 34 vector steps, whatever the number of values
        v = value[:, column]
        remainder = np.where(is_digit[:, column], remainder * 10 + v, remainder * 100 + v) % 97
    ok[ok] = remainder == 1
    return ok


_NEVER_ISSUED_SSNS = np.array([78051120, 219099999, 123456789])


def us_ssn(values: pa.Array) -> np.ndarray:
    """Area 001–899 except 666, group 01–99, serial 0001–9999; never-issued examples rejected.

    Integer columns lose leading zeros, so shorter digit strings are zero-padded to nine."""
    digits = digit_matrix(digits_only(values), 9)
    area = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
    group = digits[:, 3] * 10 + digits[:, 4]
    serial = digits[:, 5] * 1000 + digits[:, 6] * 100 + digits[:, 7] * 10 + digits[:, 8]
    number = area * 1_000_000 + group * 10_000 + serial
    return (
        (area > 0) & (area < 900) & (area != 666) & (group > 0) & (serial > 0)
        & ~np.isin(number, _NEVER_ISSUED_SSNS)
    )


def phone_digits(values: pa.Array) -> np.ndarray:
    """Between 7 and 15 digits (E.164's maximum), not all of them the same digit."""
    digits = digits_only(values)
    count = lengths(digits)
    repeated = matches(digits, r"^(?:0+|1+|2+|3+|4+|5+|6+|7+|8+|9+)$")
    return (count >= 7) & (count <= 15) & ~repeated


def mixed_alphanumeric(values: pa.Array) -> np.ndarray:
    """At least one letter and one digit (keys and secrets are never purely one or the other)."""
    return matches(values, r"[A-Za-z]") & matches(values, r"[0-9]")


def has_digit(values: pa.Array) -> np.ndarray:
    return matches(values, r"[0-9]")


_DAYS_IN_MONTH = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def valid_dates(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Real calendar dates (29 February only in leap years)."""
    month_ok = (month >= 1) & (month <= 12)
    limit = _DAYS_IN_MONTH[np.where(month_ok, month, 0)]
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    limit = np.where((month == 2) & ~leap, 28, limit)
    return month_ok & (day >= 1) & (day <= limit)


def birth_date(order: str, today: dt.date | None = None) -> Validator:
    """A validator for dates written in ``order`` (``ymd``, ``mdy`` or ``dmy``) that are
    plausible birth dates: real calendar dates, not in the future, at most 120 years ago."""
    groups = {
        "ymd": r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})",
        "mdy": r"^(?P<m>\d{1,2})[-/.](?P<d>\d{1,2})[-/.](?P<y>\d{4})",
        "dmy": r"^(?P<d>\d{1,2})[-/.](?P<m>\d{1,2})[-/.](?P<y>\d{4})",
    }[order]

    def validate(values: pa.Array) -> np.ndarray:
        now = today or dt.date.today()
        parts = int_groups(values, groups, ("y", "m", "d"))
        year, month, day = parts["y"], parts["m"], parts["d"]
        stamp = year * 10_000 + month * 100 + day
        latest = now.year * 10_000 + now.month * 100 + now.day
        oldest = (now.year - 120) * 10_000 + now.month * 100 + now.day
        return valid_dates(year, month, day) & (stamp <= latest) & (stamp >= oldest)

    return validate
