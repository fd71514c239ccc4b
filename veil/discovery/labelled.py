"""A labelled evaluation set for the classifiers, generated from a seed.

Every column carries the entity it must be tagged with, or None for a decoy that must stay
untagged: order numbers that look like card numbers but fail Luhn, IBANs and SSNs with broken
checksums or impossible areas, SKUs, free text, timestamps that are not birth dates, hashes in a
``checksum`` column, and so on. Mixed columns also carry a per-value truth, so validators can be
scored value by value. Generation is vectorised (numpy/pyarrow), so the same columns can fill a
million-row benchmark table in seconds. Used by ``tests/discovery`` and ``benchmarks/discovery.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_FIRST = np.array([
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "Ahmed", "Sofia", "Lukas", "Emma", "Hiroshi", "Yuki", "Carlos", "Lucía", "Olivia", "Noah", "Zoë",
    "Jean-Luc", "Aoife", "Chidi", "Priya", "Mateo", "Ingrid", "Oluwaseun", "Björn", "Amélie",
])
_LAST = np.array([
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez", "Lopez",
    "Müller", "Schmidt", "Dubois", "Martin", "Tanaka", "Sato", "Rossi", "Silva", "Novak", "Kowalski",
    "O'Brien", "McDonald", "van der Berg", "de la Cruz", "Nguyen", "Okafor", "Andersson", "Díaz",
])
_WORDS = np.array(
    ["the", "order", "was", "delivered", "late", "please", "call", "customer", "about", "refund", "note", "box", "damaged", "on", "arrival", "shipping", "address", "updated", "gift", "wrap", "requested", "fragile", "handle", "with", "care", "left", "at", "door"]
)
_PRODUCTS = np.array(["Acme Market", "Globex Fuel", "Initech Cloud", "Umbrella Pharmacy", "Hooli Travel",
                      "Stark Hardware", "Wayne Books", "Soylent Foods"])
_DOMAINS = np.array(["example.com", "mail.test", "corp.example", "shop.test", "uni.example.ac.uk"])
_ALNUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
_UPPER = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)
_BASE32 = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", dtype=np.uint8)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


@dataclass(frozen=True)
class LabelledColumn:
    name: str
    values: pa.Array
    entity: str | None  # the entity it must be tagged with; None: a decoy that must stay untagged
    table: str = "records"
    truth: np.ndarray | None = None  # per-value truth (is a valid `truth_entity`) for mixed columns
    truth_entity: str | None = None


def _text(matrix: np.ndarray) -> pa.StringArray:
    """Rows of a uint8 character matrix as strings (built straight from Arrow buffers)."""
    matrix = np.ascontiguousarray(matrix, dtype=np.uint8)
    rows, width = matrix.shape
    offsets = pa.py_buffer((np.arange(rows + 1, dtype=np.int32) * width).tobytes())
    return pa.Array.from_buffers(pa.string(), rows, [None, offsets, pa.py_buffer(matrix.tobytes())])


def _digits(rng: np.random.Generator, n: int, k: int, low: int = 0) -> np.ndarray:
    return rng.integers(low, 10, size=(n, k), dtype=np.uint8)


def _as_text(digits: np.ndarray) -> pa.StringArray:
    return _text(digits.astype(np.uint8) + ord("0"))


def _chars(rng: np.random.Generator, n: int, k: int, alphabet: np.ndarray) -> pa.StringArray:
    return _text(alphabet[rng.integers(0, len(alphabet), size=(n, k), dtype=np.uint8)])


def _join(*parts: pa.Array | str, sep: str = "") -> pa.StringArray:
    return pc.binary_join_element_wise(*parts, sep)


def _pick(rng: np.random.Generator, n: int, choices: np.ndarray) -> pa.StringArray:
    return pa.array(choices.tolist(), pa.string()).take(pa.array(rng.integers(0, len(choices), n)))


def _number(values: np.ndarray, width: int) -> pa.StringArray:
    return pc.utf8_lpad(pa.array(values).cast(pa.string()), width, "0")


def luhn_check_digit(payload: np.ndarray) -> np.ndarray:
    """The check digit that makes ``payload`` (an (n, k) digit matrix) Luhn-valid."""
    reversed_ = payload[:, ::-1].astype(np.int64)
    doubled = reversed_[:, 0::2] * 2
    doubled -= 9 * (doubled > 9)
    return (10 - (doubled.sum(axis=1) + reversed_[:, 1::2].sum(axis=1)) % 10) % 10


def luhn_numbers(
    rng: np.random.Generator, n: int, prefixes: list[list[int]], length: int, valid: bool = True
) -> np.ndarray:
    """(n, length) digit matrices starting with one of ``prefixes``; ``valid=False`` gives each
    a wrong check digit."""
    payload = _digits(rng, n, length - 1)
    choice = rng.integers(0, len(prefixes), n)
    for index, prefix in enumerate(prefixes):
        head = payload[:, : len(prefix)]
        head[...] = np.where((choice == index)[:, None], np.array(prefix, dtype=np.uint8), head)
    check = luhn_check_digit(payload)
    if not valid:
        check = (check + rng.integers(1, 10, n)) % 10
    return np.concatenate([payload, check[:, None]], axis=1)


def card_digits(rng: np.random.Generator, n: int, valid: bool = True, length: int = 16) -> np.ndarray:
    """Card numbers with real issuer prefixes (Visa, Mastercard, Discover; Amex when 15 long)."""
    prefixes = [[3, 4], [3, 7]] if length == 15 else [[4], [5, 1], [5, 5], [6, 0, 1, 1]]
    return luhn_numbers(rng, n, prefixes, length, valid)


def _grouped(digits: np.ndarray, sizes: tuple[int, ...], sep: str) -> pa.StringArray:
    parts, start = [], 0
    for size in sizes:
        parts.append(_as_text(digits[:, start : start + size]))
        start += size
    return _join(*parts, sep=sep)


def _mod97(chars: np.ndarray) -> np.ndarray:
    value = np.where(chars < ord("A"), chars - ord("0"), chars - ord("A") + 10).astype(np.int64)
    remainder = np.zeros(len(chars), dtype=np.int64)
    for column in range(chars.shape[1]):
        v = value[:, column]
        remainder = np.where(v < 10, remainder * 10 + v, remainder * 100 + v) % 97
    return remainder


_IBAN_LAYOUTS = {"DE": "N" * 18, "NL": "AAAA" + "N" * 10, "GB": "AAAA" + "N" * 14}


def _iban_block(rng: np.random.Generator, n: int, code: str, layout: str, valid: bool) -> pa.StringArray:
    letters = _UPPER[rng.integers(0, 26, (n, len(layout)))]
    digits = rng.integers(0, 10, (n, len(layout))).astype(np.uint8) + ord("0")
    bban = np.where(np.frombuffer(layout.encode(), dtype=np.uint8) == ord("A"), letters, digits)
    country = np.tile(np.frombuffer(code.encode() + b"00", dtype=np.uint8), (n, 1))
    check = 98 - _mod97(np.concatenate([bban, country], axis=1))
    if not valid:
        check = (check - 2 + rng.integers(1, 97, n)) % 97 + 2  # any other pair fails mod-97
    return _join(code, _number(check, 2), _text(bban))


def ibans(rng: np.random.Generator, n: int, valid: bool = True, spaced: bool = False) -> pa.StringArray:
    """German, Dutch and British IBANs with computed (or, if not ``valid``, wrong) check digits."""
    sizes = np.bincount(rng.integers(0, len(_IBAN_LAYOUTS), n), minlength=len(_IBAN_LAYOUTS))
    blocks = [_iban_block(rng, int(size), code, layout, valid)
              for size, (code, layout) in zip(sizes, _IBAN_LAYOUTS.items(), strict=True)]
    text = pa.concat_arrays(blocks).take(pa.array(rng.permutation(n)))
    if spaced:
        text = pc.utf8_rtrim_whitespace(pc.replace_substring_regex(text, r"(.{4})", r"\1 "))
    return text


def ssns(rng: np.random.Generator, n: int, valid: bool = True, separator: str = "-") -> pa.StringArray:
    area = rng.integers(1, 900, n)
    area = np.where(area == 666, 667, area)
    group, serial = rng.integers(1, 100, n), rng.integers(1, 10000, n)
    if not valid:
        broken = rng.integers(0, 4, n)
        area = np.select([broken == 0, broken == 1], [0, 666], rng.integers(900, 1000, n))
        group = np.where(broken == 3, 0, group)
        area = np.where(broken == 3, rng.integers(1, 600, n), area)
    return _join(_number(area, 3), _number(group, 2), _number(serial, 4), sep=separator)


def emails(rng: np.random.Generator, n: int) -> pa.StringArray:
    first = pc.utf8_lower(pc.replace_substring_regex(_pick(rng, n, _FIRST), r"[^A-Za-z]", ""))
    last = pc.utf8_lower(pc.replace_substring_regex(_pick(rng, n, _LAST), r"[^A-Za-z]", ""))
    user = _join(first, ".", last, pa.array(rng.integers(1, 999, n)).cast(pa.string()))
    return _join(user, _pick(rng, n, _DOMAINS), sep="@")


def phones(rng: np.random.Generator, n: int, style: str) -> pa.StringArray:
    area, line = rng.integers(201, 990, n), rng.integers(0, 10000, n)
    exchange = rng.integers(200, 1000, n)
    if style == "us":
        return _join("+1-", _number(area, 3), "-", _number(exchange, 3), "-", _number(line, 4))
    if style == "paren":
        return _join("(", _number(area, 3), ") ", _number(exchange, 3), "-", _number(line, 4))
    if style == "e164":
        return _join("+1", _number(area, 3), _number(exchange, 3), _number(line, 4))
    return _join("+44 20 ", _number(rng.integers(1000, 10000, n), 4), " ", _number(line, 4))


def ipv4s(rng: np.random.Generator, n: int) -> pa.StringArray:
    octets = rng.integers(0, 256, (n, 4))
    return _join(*(pa.array(octets[:, i]).cast(pa.string()) for i in range(4)), sep=".")


def ipv6s(rng: np.random.Generator, n: int) -> pa.StringArray:
    groups = [pc.utf8_lower(_chars(rng, n, 4, _HEX)) for _ in range(8)]
    full = _join(*groups, sep=":")
    short = _join("2001:db8::", groups[7])
    return pc.if_else(pa.array(rng.random(n) < 0.3), short, full)


def iso_dates(rng: np.random.Generator, n: int, start: str, end: str) -> pa.Array:
    first, last = np.datetime64(start, "D"), np.datetime64(end, "D")
    days = rng.integers(0, int((last - first).astype(int)), n)
    return pa.array(first + days.astype("timedelta64[D]"))


def names(rng: np.random.Generator, n: int) -> pa.StringArray:
    return _join(_pick(rng, n, _FIRST), _pick(rng, n, _LAST), sep=" ")


def uuids(rng: np.random.Generator, n: int) -> pa.StringArray:
    parts = [pc.utf8_lower(_chars(rng, n, k, _HEX)) for k in (8, 4, 4, 4, 12)]
    parts[2] = _join("4", pc.utf8_slice_codeunits(parts[2], 1))
    return _join(*parts, sep="-")


def mixed_formats(rng: np.random.Generator, *columns: pa.Array) -> pa.Array:
    """Each value taken from one of ``columns`` at random (one column, several formats)."""
    choice = rng.integers(0, len(columns), len(columns[0]))
    result = columns[-1]
    for index, column in enumerate(columns[:-1]):
        result = pc.if_else(pa.array(choice == index), column, result)
    return result


def free_text(rng: np.random.Generator, n: int) -> pa.StringArray:
    return _join(*(_pick(rng, n, _WORDS) for _ in range(6)), sep=" ")


def _with_nulls(values: pa.Array, rng: np.random.Generator, fraction: float) -> pa.Array:
    return pc.if_else(pa.array(rng.random(len(values)) < fraction), pa.nulls(len(values), values.type), values)


def _mixed(rng: np.random.Generator, good: pa.Array, bad: pa.Array, share: float) -> tuple[pa.Array, np.ndarray]:
    truth = rng.random(len(good)) < share
    return pc.if_else(pa.array(truth), good, bad), truth


def labelled_columns(n: int = 2000, seed: int = 7) -> list[LabelledColumn]:
    """The evaluation set: positives for every classifier in several formats, then decoys."""
    rng = np.random.default_rng(seed)
    cards = card_digits(rng, n)
    mixed_cards, card_truth = _mixed(rng, _as_text(card_digits(rng, n)), _as_text(card_digits(rng, n, False)), 0.5)
    mixed_ibans, iban_truth = _mixed(rng, ibans(rng, n), ibans(rng, n, valid=False), 0.5)
    mixed_ssns, ssn_truth = _mixed(rng, ssns(rng, n), ssns(rng, n, valid=False), 0.5)
    noisy_emails = pc.if_else(pa.array(rng.random(n) < 0.04), free_text(rng, n), emails(rng, n))
    dob = iso_dates(rng, n, "1935-01-01", "2006-12-31")
    return [
        LabelledColumn("card_number", _as_text(cards), "CreditCardNumber"),
        LabelledColumn("pan", _grouped(card_digits(rng, n), (4, 4, 4, 4), " "), "CreditCardNumber"),
        LabelledColumn("payment_card", _grouped(card_digits(rng, n), (4, 4, 4, 4), "-"), "CreditCardNumber"),
        LabelledColumn("amex", _grouped(card_digits(rng, n, length=15), (4, 6, 5), " "), "CreditCardNumber"),
        LabelledColumn("card_ref", _as_text(cards).cast(pa.int64()), "CreditCardNumber"),
        LabelledColumn("cards_mixed", mixed_cards, None, truth=card_truth, truth_entity="CreditCardNumber"),
        LabelledColumn("iban", ibans(rng, n), "IBAN"),
        LabelledColumn("account", ibans(rng, n, spaced=True), "IBAN"),
        LabelledColumn("ibans_mixed", mixed_ibans, None, truth=iban_truth, truth_entity="IBAN"),
        LabelledColumn("ssn", ssns(rng, n), "USSocialSecurityNumber"),
        LabelledColumn("tax_ref", ssns(rng, n, separator=" "), "USSocialSecurityNumber"),
        LabelledColumn("ssn_digits", ssns(rng, n, separator="").cast(pa.int64()), "USSocialSecurityNumber"),
        LabelledColumn("ssns_mixed", mixed_ssns, None, truth=ssn_truth, truth_entity="USSocialSecurityNumber"),
        LabelledColumn("email", _with_nulls(emails(rng, n), rng, 0.2), "EmailAddress"),
        LabelledColumn("contact", noisy_emails, "EmailAddress"),
        LabelledColumn("phone", phones(rng, n, "us"), "PhoneNumber"),
        LabelledColumn("home_phone", phones(rng, n, "paren"), "PhoneNumber"),
        LabelledColumn("msisdn", phones(rng, n, "e164"), "PhoneNumber"),
        LabelledColumn("uk_office", phones(rng, n, "uk"), "PhoneNumber"),
        LabelledColumn("reachable_at", mixed_formats(rng, *(phones(rng, n, s) for s in ("us", "paren", "e164", "uk"))),
                       "PhoneNumber"),
        LabelledColumn("login_email", pc.utf8_upper(_join(pc.replace_substring(emails(rng, n), "@", "+news@"))),
                       "EmailAddress"),
        LabelledColumn("client_ip", ipv4s(rng, n), "IPAddress"),
        LabelledColumn("peer", mixed_formats(rng, ipv4s(rng, n), ipv6s(rng, n)), "IPAddress"),
        LabelledColumn("source", ipv6s(rng, n), "IPAddress"),
        LabelledColumn("date_of_birth", dob, "DateOfBirth"),
        LabelledColumn("dob", pc.strftime(dob, "%m/%d/%Y"), "DateOfBirth"),
        LabelledColumn("birthday", pc.strftime(dob, "%d.%m.%Y"), "DateOfBirth"),
        LabelledColumn("full_name", names(rng, n), "PersonName"),
        LabelledColumn("last_name", _pick(rng, n, _LAST), "PersonName"),
        LabelledColumn("name", names(rng, n), "PersonName", table="customers"),
        LabelledColumn("zip", _number(rng.integers(501, 99951, n), 5), "PostalCode"),
        LabelledColumn("postal_code", _join(_chars(rng, n, 2, _UPPER), _number(rng.integers(1, 10, n), 1), " ",
                                           _number(rng.integers(1, 10, n), 1), _chars(rng, n, 2, _UPPER)), "PostalCode"),
        LabelledColumn("passport_number", _join(_chars(rng, n, 1, _UPPER), _as_text(_digits(rng, n, 8))), "PassportNumber"),
        LabelledColumn("device_id", uuids(rng, n), "UUID"),
        LabelledColumn("aws_access_key_id", _join("AKIA", _chars(rng, n, 16, _BASE32)), "AWSAccessKey"),
        LabelledColumn("github_token", _join("ghp_", _chars(rng, n, 36, _ALNUM)), "APIKey"),
        LabelledColumn("api_secret", _chars(rng, n, 32, _ALNUM), "APIKey"),
        # Decoys: must stay untagged.
        LabelledColumn("order_number", _as_text(card_digits(rng, n, valid=False)), None),
        LabelledColumn("reference", _as_text(_digits(rng, n, 16, low=1)), None),
        LabelledColumn("sku", _join("SKU-", _as_text(_digits(rng, n, 5)), "-", _chars(rng, n, 2, _UPPER)), None),
        LabelledColumn("notes", free_text(rng, n), None),
        LabelledColumn("bank_iban", ibans(rng, n, valid=False), None),
        LabelledColumn("employee_ssn", ssns(rng, n, valid=False), None),
        LabelledColumn("created_at", iso_dates(rng, n, "1990-01-01", "2026-01-01"), None),
        LabelledColumn("order_date", pc.strftime(iso_dates(rng, n, "1950-01-01", "2020-01-01"), "%Y-%m-%d"), None),
        LabelledColumn("product_name", _pick(rng, n, _PRODUCTS), None),
        LabelledColumn("merchant", _pick(rng, n, _PRODUCTS), None),
        LabelledColumn("quantity", pa.array(rng.integers(10000, 99999, n)), None),
        LabelledColumn("tracking_number", _as_text(_digits(rng, n, 10, low=1)), None),
        LabelledColumn("amount", pa.array(np.round(rng.random(n) * 1000, 2)).cast(pa.string()), None),
        LabelledColumn("checksum", pc.utf8_lower(_chars(rng, n, 40, _HEX)), None),
        LabelledColumn("app_version", _join(*(pa.array(rng.integers(0, 20, n)).cast(pa.string()) for _ in range(4)), sep="."), None),
        LabelledColumn("status", _pick(rng, n, np.array(["settled", "pending", "refunded"])), None),
        LabelledColumn("duration", _join(_number(rng.integers(0, 24, n), 2), _number(rng.integers(0, 60, n), 2),
                                         _number(rng.integers(0, 60, n), 2), sep=":"), None),
        LabelledColumn("device_mac", _join(*(_chars(rng, n, 2, _HEX[:16]) for _ in range(6)), sep=":"), None),
        LabelledColumn("imei", _as_text(luhn_numbers(rng, n, [[3, 5], [8, 6], [0, 1]], 15)), None),
        LabelledColumn("isbn", _as_text(luhn_numbers(rng, n, [[9, 7, 8], [9, 7, 9]], 13)), None),
        LabelledColumn("sin_number", _grouped(luhn_numbers(rng, n, [[1], [2], [4], [5], [6], [7]], 9), (3, 3, 3), " "), None),
        LabelledColumn("store_code", _join(_chars(rng, n, 3, _UPPER), _as_text(_digits(rng, n, 4))), None),
    ]


@dataclass(frozen=True)
class Score:
    """Precision and recall of one classifier over the labelled set."""

    entity: str
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0


def score_columns(expected: list[str | None], found: list[str | None], entities: list[str]) -> dict[str, Score]:
    """Column-level scores: each column is one decision (its winning entity, or none)."""
    scores = {}
    for entity in entities:
        tp = sum(e == entity and f == entity for e, f in zip(expected, found, strict=True))
        fp = sum(e != entity and f == entity for e, f in zip(expected, found, strict=True))
        fn = sum(e == entity and f != entity for e, f in zip(expected, found, strict=True))
        scores[entity] = Score(entity, tp, fp, fn)
    return scores


def score_values(entity: str, truth: np.ndarray, hits: np.ndarray) -> Score:
    """Value-level score of a validator on a mixed column (valid and invalid values)."""
    return Score(
        entity, int((truth & hits).sum()), int((~truth & hits).sum()), int((truth & ~hits).sum())
    )
