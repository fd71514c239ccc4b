"""Classifiers against a generated labelled set: precision and recall per classifier, no decoy tagged."""

from __future__ import annotations

import datetime as dt
import time

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from veil.discovery.classifiers import (
    BUILTIN_CLASSIFIERS,
    ENTITY_PREFIX,
    normalize_name,
)
from veil.discovery.classify import classify_column, classify_table, value_hits
from veil.discovery.labelled import labelled_columns, score_columns, score_values
from veil.discovery.validators import birth_date, card_number, iban, luhn, us_ssn
from veil.discovery.vector import as_strings

ENTITIES = [c.entity for c in BUILTIN_CLASSIFIERS]
BY_ENTITY = {c.entity: c for c in BUILTIN_CLASSIFIERS}


@pytest.fixture(scope="module")
def labelled():
    columns = labelled_columns(n=3000, seed=11)
    results = [classify_column(c.table, c.name, c.values.type, c.values) for c in columns]
    return columns, results


def test_every_classifier_has_positive_columns(labelled) -> None:
    columns, _ = labelled
    assert {c.entity for c in columns if c.entity} == set(ENTITIES)


def test_precision_and_recall_per_classifier(labelled) -> None:
    columns, results = labelled
    found = [r.winner.entity if r.winner else None for r in results]
    scores = score_columns([c.entity for c in columns], found, ENTITIES)
    for entity, score in scores.items():
        assert score.precision == 1.0, (entity, score)
        assert score.recall >= 0.95, (entity, score)


def test_no_decoy_is_tagged(labelled) -> None:
    columns, results = labelled
    tagged = [(c.name, r.winner.entity, r.winner.hit_rate) for c, r in zip(columns, results, strict=True) if c.entity is None and r.winner]
    assert tagged == []


def test_validators_separate_valid_from_invalid_values(labelled) -> None:
    columns, _ = labelled
    mixed = [c for c in columns if c.truth is not None]
    assert {c.truth_entity for c in mixed} == {"CreditCardNumber", "IBAN", "USSocialSecurityNumber"}
    for column in mixed:
        classifier = BY_ENTITY[column.truth_entity]
        hits = value_hits(classifier, column.table, column.name, column.values.type, column.values)
        score = score_values(classifier.entity, column.truth, hits)
        assert score.precision >= 0.999 and score.recall >= 0.999, (column.name, score)


def test_tags_are_entity_and_categories() -> None:
    result = classify_column("t", "cc", pa.string(), pa.array(["4111111111111111", "5500 0000 0000 0004"]))
    assert result.tags == (
        "Discovered.Entity.CreditCardNumber", "Discovered.PCI", "Discovered.PII", "Discovered.Identifier.Direct",
    )
    assert all(c.tag.startswith(ENTITY_PREFIX) for c in BUILTIN_CLASSIFIERS)


def test_threshold_is_a_share_of_non_null_values() -> None:
    good = ["4111111111111111"] * 89 + ["not a card"] * 11 + [None] * 50
    assert classify_column("t", "c", pa.string(), pa.array(good)).winner is None
    lenient = classify_column("t", "c", pa.string(), pa.array(good), threshold=0.85)
    assert lenient.winner is not None and lenient.winner.hit_rate == pytest.approx(0.89)
    ninety = ["4111111111111111"] * 90 + ["x"] * 10 + ["", "  "] * 20
    assert classify_column("t", "c", pa.string(), pa.array(ninety)).winner.hit_rate == pytest.approx(0.9)


def test_large_samples_that_cannot_qualify_are_cut_short() -> None:
    values = pa.array(["4111111111111111"] * 100 + ["order 17"] * 9900)
    result = classify_column("t", "c", pa.string(), values)
    assert result.winner is None
    assert [c.exact for c in result.candidates] == [False]


def test_name_rules_enable_ambiguous_patterns() -> None:
    digits = pa.array([f"{a:03d}{g:02d}{s:04d}" for a, g, s in zip(range(100, 200), range(1, 101), range(7, 107), strict=True)])
    assert classify_column("t", "ssn", pa.string(), digits).winner.entity == "USSocialSecurityNumber"
    assert classify_column("t", "order_id", pa.string(), digits).winner is None
    bare = pa.array(["4155550100", "2125550199"] * 20)
    assert classify_column("t", "mobile_number", pa.string(), bare).winner.entity == "PhoneNumber"
    assert classify_column("t", "invoice", pa.string(), bare).winner is None


def test_name_required_classifiers_never_tag_other_columns() -> None:
    dates = pa.array([dt.date(1980, 1, 1) + dt.timedelta(days=i * 97) for i in range(100)])
    assert classify_column("t", "birth_date", pa.date32(), dates).winner.entity == "DateOfBirth"
    assert classify_column("t", "shipped_on", pa.date32(), dates).winner is None
    names = pa.array(["Ada Lovelace", "Grace Hopper", "Jean-Luc Picard", "Ludwig van Beethoven"])
    assert classify_column("t", "first_name", pa.string(), names).winner.entity == "PersonName"
    assert classify_column("employees", "name", pa.string(), names).winner.entity == "PersonName"
    assert classify_column("products", "name", pa.string(), names).winner is None


def test_most_specific_classifier_wins() -> None:
    uuids = pa.array(["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "123e4567-e89b-42d3-a456-426614174000"] * 10)
    assert classify_column("t", "request_id", pa.string(), uuids).winner.entity == "UUID"
    # In a column named like a secret, the same values are API keys: the name rule is evidence.
    secret = classify_column("t", "api_key", pa.string(), uuids)
    assert secret.winner.entity == "APIKey"
    assert {c.entity for c in secret.candidates} == {"APIKey", "UUID"}


def test_version_strings_are_not_ip_addresses() -> None:
    values = pa.array(["10.2.0.1", "1.2.3.4"] * 10)
    assert classify_column("t", "server", pa.string(), values).winner.entity == "IPAddress"
    assert classify_column("t", "firmware_version", pa.string(), values).winner is None


@pytest.mark.parametrize(
    "value",
    ["::1", "2001:db8::8a2e:370:7334", "fe80::1%eth0", "::ffff:192.0.2.128", "2001:0db8:0000:0000:0000:ff00:0042:8329"],
)
def test_ipv6_forms(value: str) -> None:
    assert classify_column("t", "addr", pa.string(), pa.array([value])).winner.entity == "IPAddress"


@pytest.mark.parametrize("value", ["12:30:45", "00:1A:2B:3C:4D:5E", "256.1.1.1", "1.2.3", "2001:db8:::1"])
def test_not_ip_addresses(value: str) -> None:
    assert classify_column("t", "addr", pa.string(), pa.array([value])).winner is None


def test_typed_columns() -> None:
    cards = pa.array([4111111111111111, 5500000000000004, 378282246310005], pa.int64())
    assert classify_column("t", "c", pa.int64(), cards).winner.entity == "CreditCardNumber"
    zips = pa.array([2134, 90210, 10001], pa.int32())  # a ZIP stored as an integer loses its zero
    assert classify_column("t", "zip", pa.int32(), zips).winner.entity == "PostalCode"
    assert classify_column("t", "score", pa.float64(), pa.array([1.5])).kind is None


def test_duckdb_uuid_columns() -> None:
    connection = duckdb.connect(config={"arrow_lossless_conversion": True})
    sample = connection.sql(
        "SELECT CASE WHEN i = 0 THEN 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID ELSE gen_random_uuid() END AS id, "
        "'x' || i AS label FROM range(50) t(i) ORDER BY i"
    ).to_arrow_table()
    assert isinstance(sample.schema.field("id").type, pa.BaseExtensionType)
    assert as_strings(sample.column("id"))[0].as_py() == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    results = {r.column: r for r in classify_table("t", sample)}
    assert results["id"].winner.entity == "UUID"
    assert results["label"].winner is None


def test_overlong_values_never_match() -> None:
    text = pa.array(["a" * 5000 + "@example.com"] * 10)
    assert classify_column("t", "email", pa.string(), text).winner is None


def test_luhn_and_card_rules() -> None:
    numbers = pa.array(["4111111111111111", "4111111111111112", "79927398713", "0000000000000000"])
    assert luhn(numbers).tolist() == [True, False, True, True]
    assert card_number(numbers).tolist() == [True, False, False, False]  # too short / no issuer


def test_iban_rules() -> None:
    values = pa.array(["DE89370400440532013000", "GB82WEST12345698765432", "DE89370400440532013001",
                       "DE8937040044053201300", "XX89370400440532013000", "gb82 west 1234 5698 7654 32"])
    assert iban(values).tolist() == [True, True, False, False, False, True]


def test_ssn_rules() -> None:
    values = pa.array(["536-22-8726", "000-12-3456", "666-12-3456", "912-12-3456", "536-00-8726",
                       "536-22-0000", "078-05-1120", "1234567"])
    assert us_ssn(values).tolist() == [True, False, False, False, False, False, False, True]


def test_birth_dates_are_real_and_plausible() -> None:
    validate = birth_date("ymd", today=dt.date(2026, 6, 1))
    values = pa.array(["1980-02-29", "1981-02-29", "2026-06-02", "1899-01-01", "1990-13-01", "1990-04-31"])
    assert validate(values).tolist() == [True, False, False, False, False, False]
    assert birth_date("dmy", today=dt.date(2026, 6, 1))(pa.array(["31.12.1999"])).tolist() == [True]


def test_normalize_name() -> None:
    assert normalize_name("cardNumber") == "card_number"
    assert normalize_name("Date of Birth") == "date_of_birth"
    assert normalize_name("IBAN") == "iban"


def test_classification_is_vectorised_and_fast() -> None:
    rng = np.random.default_rng(1)
    values = pa.array(rng.integers(10**15, 10**16, 100_000).astype(str))
    started = time.perf_counter()
    classify_column("t", "reference", pa.string(), values)
    assert time.perf_counter() - started < 2.0
