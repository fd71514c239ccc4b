"""The built-in classifiers: what each sensitive entity looks like.

A classifier combines three kinds of evidence, as Immuta's sensitive data discovery does:

* **column-name rules** (``NameRule``): ``dob`` or ``birth_date`` for a date of birth. Some
  entities are too ambiguous to recognise by value alone (a postal code is "five digits"), so their
  classifier never tags a column whose name does not match (``name_required``);
* **value regexes** (``Pattern.regex``, RE2 syntax, anchored), run over the whole sample column at
  once with ``pyarrow.compute``;
* **validators** (``Pattern.validator``): vectorised checksums and rules (Luhn, mod-97, SSN
  area/group/serial, calendar dates) applied to the values the regex matched.

A pattern marked ``needs_name`` counts only in a column whose name matches: nine bare digits are
an SSN in a column called ``ssn`` and an order number elsewhere. ``specificity`` ranks classifiers
that all qualify for one column: the most specific wins.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from functools import cached_property

from veil.discovery import validators as v
from veil.discovery.validators import Validator
from veil.state.tagstore import ENTITY_PREFIX, TAG_ROOT

PII = f"{TAG_ROOT}.PII"
PCI = f"{TAG_ROOT}.PCI"
DIRECT = f"{TAG_ROOT}.Identifier.Direct"
INDIRECT = f"{TAG_ROOT}.Identifier.Indirect"
SECRET = f"{TAG_ROOT}.Secret"
COUNTRY_US = f"{TAG_ROOT}.Country.US"


class ValueKind(enum.Enum):
    """How a column's values reach the classifiers (all as text, but not all text is alike)."""

    TEXT = "text"
    INTEGER = "integer"
    TEMPORAL = "temporal"
    UUID = "uuid"


TEXT = frozenset({ValueKind.TEXT})
TEXT_OR_INTEGER = frozenset({ValueKind.TEXT, ValueKind.INTEGER})


def normalize_name(name: str) -> str:
    """``cardNumber``, ``Card Number`` and ``CARD_NUMBER`` all become ``card_number``."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


@dataclass(frozen=True)
class NameRule:
    """Column-name evidence. ``column`` is a regex searched in the normalised column name;
    ``in_tables`` adds (column regex, table regex) pairs for names that are only telling in
    context (``name`` in a ``customers`` table); ``exclude`` vetoes (``version`` is never an IP)."""

    column: str
    in_tables: tuple[tuple[str, str], ...] = ()
    exclude: str | None = None

    def matches(self, table: str, column: str) -> bool:
        table, column = normalize_name(table), normalize_name(column)
        if re.search(self.column, column):
            return True
        return any(re.search(c, column) and re.search(t, table) for c, t in self.in_tables)

    def excludes(self, column: str) -> bool:
        return self.exclude is not None and re.search(self.exclude, normalize_name(column)) is not None


@dataclass(frozen=True)
class Pattern:
    regex: str
    validator: Validator | None = None
    needs_name: bool = False
    kinds: frozenset[ValueKind] = TEXT
    ignore_case: bool = False


@dataclass(frozen=True)
class Classifier:
    entity: str
    categories: tuple[str, ...]
    specificity: int
    patterns: tuple[Pattern, ...]
    name: NameRule | None = None
    name_required: bool = False
    description: str = field(default="", compare=False)

    @cached_property
    def tag(self) -> str:
        return ENTITY_PREFIX + self.entity

    @cached_property
    def tags(self) -> tuple[str, ...]:
        return (self.tag, *self.categories)

    def name_matches(self, table: str, column: str) -> bool:
        return self.name is not None and self.name.matches(table, column)

    def patterns_for(self, kind: ValueKind, name_matched: bool) -> tuple[Pattern, ...]:
        """The patterns that may count for a column of this kind, given its name."""
        return tuple(p for p in self.patterns if kind in p.kinds and (name_matched or not p.needs_name))


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H = r"[0-9A-Fa-f]{1,4}"
_IPV6 = (
    rf"(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{1,7}}:|(?:{_H}:){{1,6}}:{_H}|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}|"
    rf"(?:{_H}:){{1,4}}(?::{_H}){{1,3}}|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}|"
    rf"{_H}:(?::{_H}){{1,6}}|:(?:(?::{_H}){{1,7}}|:)|fe80:(?::[0-9A-Fa-f]{{0,4}}){{0,4}}%[0-9A-Za-z]+|"
    rf"::(?:ffff(?::0{{1,4}})?:)?{_IPV4}|(?:{_H}:){{1,4}}:{_IPV4})"
)
_PERSON_WORD = r"\p{Lu}[\p{L}'’\-]*\.?"
_PARTICLE = r"(?:van|von|der|den|de|la|le|del|della|da|di|du|dos|das|bin|ibn|al|el|y)"
_PERSON = rf"^(?:{_PARTICLE}\s+)*{_PERSON_WORD}(?:,?\s+(?:{_PARTICLE}\s+)*{_PERSON_WORD}){{0,4}}$"
_PEOPLE_TABLES = (
    r"(?:^|_)(?:customer|client|patient|employee|person|people|contact|member|user|student|staff|"
    r"passenger|guest|applicant|author|cardholder|account_holder|subscriber|lead|beneficiar(?:y|ie))s?$"
)

CREDIT_CARD = Classifier(
    "CreditCardNumber", (PCI, PII, DIRECT), 90,
    (Pattern(r"^[0-9]{4}(?:[ -]?[0-9]{2,7}){2,4}$", v.card_number, kinds=TEXT_OR_INTEGER),),
    NameRule(r"(?:^|_)(?:cc|card|pan|credit_?card|cc_?num(?:ber)?)(?:_|$)",
             exclude=r"(?:^|_)(?:imei|imeisv|meid|iccid|sim|isbn|ean|gtin|upc)(?:_|$)"),
    description="payment card numbers: issuer prefix, 13-19 digits, Luhn check digit",
)
IBAN = Classifier(
    "IBAN", (PII, DIRECT), 95,
    (Pattern(r"^[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,30}$", v.iban),),
    NameRule(r"(?:^|_)iban(?:_|$)"),
    description="international bank account numbers: registered length, mod-97 check",
)
US_SSN = Classifier(
    "USSocialSecurityNumber", (PII, DIRECT, COUNTRY_US), 85,
    (
        Pattern(r"^[0-9]{3}-[0-9]{2}-[0-9]{4}$", v.us_ssn),
        Pattern(r"^[0-9]{3} [0-9]{2} [0-9]{4}$", v.us_ssn),
        Pattern(r"^[0-9]{7,9}$", v.us_ssn, needs_name=True, kinds=TEXT_OR_INTEGER),
    ),
    NameRule(r"(?:^|_)(?:ssn|social_?security(?:_num(?:ber)?|_no)?|tax_?id|tin)(?:_|$)"),
    description="US social security numbers: area 001-899 (not 666), group and serial non-zero",
)
EMAIL = Classifier(
    "EmailAddress", (PII, DIRECT), 80,
    (
        Pattern(
            r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
            r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
        ),
    ),
    NameRule(r"(?:^|_)e?_?mail(?:_?addr(?:ess)?)?(?:_|$)"),
    description="e-mail addresses (RFC 5322 dot-atom local part, DNS domain)",
)
UUID = Classifier(
    "UUID", (INDIRECT,), 75,
    (
        Pattern(
            r"^\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}?$",
            kinds=frozenset({ValueKind.TEXT, ValueKind.UUID}),
        ),
        Pattern(r"^[0-9A-Fa-f]{32}$", v.mixed_alphanumeric, needs_name=True),
    ),
    NameRule(r"(?:^|_)(?:uuid|guid)(?:_|$)"),
    description="UUID-like identifiers (8-4-4-4-12 hex, or 32 hex digits in a uuid/guid column)",
)
IP_ADDRESS = Classifier(
    "IPAddress", (PII, INDIRECT), 70,
    (
        Pattern(rf"^{_IPV4}(?:/(?:3[0-2]|[12]?\d))?$"),
        Pattern(rf"^{_IPV6}(?:/(?:12[0-8]|1[01]\d|[1-9]?\d))?$"),
    ),
    NameRule(r"(?:^|_)(?:ip|ipv4|ipv6|ip_?addr(?:ess)?|remote_addr|client_addr)(?:_|$)",
             exclude=r"(?:^|_)(?:version|ver|release|build|oid|mib)(?:_|$)"),
    description="IPv4 (octets 0-255, optional CIDR suffix) and IPv6 addresses",
)
AWS_KEY = Classifier(
    "AWSAccessKey", (SECRET,), 88,
    (
        Pattern(r"^(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z2-7]{16}$"),
        Pattern(r"^[A-Za-z0-9/+]{40}$", v.mixed_alphanumeric, needs_name=True),
    ),
    NameRule(r"(?:^|_)(?:aws|access_key|secret_access_key|secret_key)(?:_|$)"),
    description="AWS access key ids (and 40-character secret keys in aws/secret-key columns)",
)
API_KEY = Classifier(
    "APIKey", (SECRET,), 65,
    (
        Pattern(
            r"^(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,}|"
            r"(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|sk-(?:proj-)?[A-Za-z0-9_-]{20,}|"
            r"xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20}|"
            r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}|npm_[A-Za-z0-9]{36})$"
        ),
        Pattern(r"^eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}$"),
        Pattern(r"^[A-Za-z0-9_\-+/=.~]{20,512}$", v.mixed_alphanumeric, needs_name=True),
    ),
    NameRule(
        r"(?:^|_)(?:api_?key|apikey|secret|token|access_token|refresh_token|auth_token|"
        r"client_secret|private_key|bearer|credential|passwd|password)s?(?:_|$)",
        exclude=r"(?:^|_)(?:hash|hashed|digest|checksum|id)$",
    ),
    description="API keys, tokens and secrets (well-known token formats, JWTs, or long mixed "
    "strings in key/secret/token columns)",
)
PHONE = Classifier(
    "PhoneNumber", (PII, DIRECT), 60,
    (
        Pattern(r"^\+[1-9][0-9]{0,3}[ .-]?(?:\(?[0-9]{1,5}\)?[ .-]?){1,5}[0-9]{2,5}$", v.phone_digits),
        Pattern(
            r"^(?:1[ .-]?)?(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}"
            r"(?: ?(?:x|ext\.?) ?[0-9]{1,5})?$",
            v.phone_digits,
        ),
        Pattern(r"^\(?0[0-9]{1,5}\)?(?:[ .-]?[0-9]{2,5}){1,4}$", v.phone_digits, needs_name=True),
        Pattern(r"^[0-9]{7,15}$", v.phone_digits, needs_name=True, kinds=TEXT_OR_INTEGER),
    ),
    NameRule(r"(?:^|_)(?:phone|mobile|cell|tel|telephone|fax|msisdn|whatsapp|contact_number)(?:_|$)"),
    description="phone numbers: E.164, international (+CC ...) and North American formats; "
    "national or bare-digit forms only in phone/mobile columns",
)
DATE_OF_BIRTH = Classifier(
    "DateOfBirth", (PII, INDIRECT), 55,
    (
        Pattern(
            r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[ T][0-9:.]+(?:[+-][0-9:]+|Z)?)?$",
            v.birth_date("ymd"),
            kinds=frozenset({ValueKind.TEXT, ValueKind.TEMPORAL}),
        ),
        Pattern(r"^[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}$", v.birth_date("ymd")),
        Pattern(r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$", v.birth_date("mdy")),
        Pattern(r"^[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}$", v.birth_date("dmy")),
    ),
    NameRule(r"(?:^|_)(?:dob|d_o_b|birth|birthday|birthdate|birth_?date|born|date_of_birth|bday)(?:_|$)"),
    name_required=True,
    description="plausible birth dates (real dates, not in the future, within 120 years) in "
    "columns named like dob/birth_date",
)
PASSPORT = Classifier(
    "PassportNumber", (PII, DIRECT), 50,
    (Pattern(r"^[A-Za-z0-9]{6,9}$", v.has_digit, kinds=TEXT_OR_INTEGER),),
    NameRule(r"(?:^|_)(?:passport|passport_?(?:no|num|number|id)|travel_?doc(?:ument)?)(?:_|$)"),
    name_required=True,
    description="passport-like document numbers (6-9 letters and digits) in passport columns",
)
POSTAL_CODE = Classifier(
    "PostalCode", (PII, INDIRECT), 40,
    (
        Pattern(r"^[0-9]{5}(?:-[0-9]{4})?$"),
        Pattern(r"^[A-Za-z][0-9][A-Za-z] ?[0-9][A-Za-z][0-9]$"),
        Pattern(r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}$"),
        Pattern(r"^[0-9]{4} ?[A-Za-z]{2}$"),
        Pattern(r"^[0-9]{2,3}-[0-9]{3,4}$"),
        Pattern(r"^[0-9]{5}-[0-9]{3}$"),
        Pattern(r"^[0-9]{3,6}$", kinds=TEXT_OR_INTEGER),
    ),
    NameRule(r"(?:^|_)(?:zip|zipcode|zip_code|postal|postcode|post_code|postal_code|plz|cep)(?:_|$)"),
    name_required=True,
    description="postal codes (US ZIP, Canadian, UK, Dutch, Japanese, Brazilian, numeric) in "
    "zip/postal-code columns",
)
PERSON_NAME = Classifier(
    "PersonName", (PII, DIRECT), 30,
    (Pattern(_PERSON),),
    NameRule(
        r"^(?:first|last|middle|given|family|full|maiden|legal|preferred|nick|sur|fore|f|l)_?names?$|"
        r"^(?:customer|client|patient|employee|person|contact|member|user|student|holder|card_?holder|"
        r"account_?holder|owner|passenger|guest|applicant|beneficiary|recipient|sender|author|"
        r"spouse|parent|emergency_contact|subscriber)_(?:full_)?names?$|"
        r"^(?:surname|forename|firstname|lastname|fullname|cardholder|name_on_card)$",
        in_tables=((r"^(?:name|display_name)$", _PEOPLE_TABLES),),
    ),
    name_required=True,
    description="person names (capitalised words with particles such as van/de) in first/last/"
    "full-name columns, or a bare name column of a people table",
)

BUILTIN_CLASSIFIERS: tuple[Classifier, ...] = (
    IBAN, CREDIT_CARD, AWS_KEY, US_SSN, EMAIL, UUID, IP_ADDRESS, API_KEY, PHONE, DATE_OF_BIRTH,
    PASSPORT, POSTAL_CODE, PERSON_NAME,
)
