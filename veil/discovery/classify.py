"""Classify sampled columns: hit rate per classifier, qualification, most specific wins.

Pure functions over Arrow arrays; no I/O. A column qualifies for a classifier when at least
``threshold`` of its non-null, non-blank sampled values are hits (Immuta's default is 90 %).
Among the classifiers a column qualifies for, the winner is the one whose column-name rule
matched, then the most specific, then the one with the higher hit rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from veil.discovery.classifiers import (
    BUILTIN_CLASSIFIERS,
    Classifier,
    Pattern,
    ValueKind,
)
from veil.discovery.vector import as_strings, matches

DEFAULT_THRESHOLD = 0.9
MAX_VALUE_LENGTH = 4096  # longer values (documents, blobs) are never an entity
_PROBE_SIZE = 256  # values looked at before paying for a full pass


@dataclass(frozen=True)
class Candidate:
    """One classifier's result on one column. ``exact`` is False when a probe of the sample
    already showed the column cannot qualify (the rate is then the probe's)."""

    classifier: Classifier = field(compare=False)
    hit_rate: float
    name_matched: bool
    exact: bool = True

    @property
    def entity(self) -> str:
        return self.classifier.entity

    @property
    def rank(self) -> tuple[bool, int, float]:
        return (self.name_matched, self.classifier.specificity, self.hit_rate)


@dataclass(frozen=True)
class ColumnResult:
    table: str
    column: str
    kind: ValueKind | None
    values: int  # non-null, non-blank values in the sample
    winner: Candidate | None = None
    candidates: tuple[Candidate, ...] = ()

    @property
    def tags(self) -> tuple[str, ...]:
        return self.winner.classifier.tags if self.winner else ()


def value_kind(arrow_type: pa.DataType) -> ValueKind | None:
    """How a column type is classified; None for types that cannot hold an entity."""
    if isinstance(arrow_type, pa.BaseExtensionType):
        if arrow_type.extension_name == "arrow.uuid":
            return ValueKind.UUID
        return None
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return ValueKind.TEXT
    if pa.types.is_integer(arrow_type) or (pa.types.is_decimal(arrow_type) and arrow_type.scale == 0):
        return ValueKind.INTEGER
    if pa.types.is_date(arrow_type) or pa.types.is_timestamp(arrow_type):
        return ValueKind.TEMPORAL
    return None


def prepare(values: pa.Array | pa.ChunkedArray) -> pa.StringArray:
    """The sample as trimmed text without nulls or blanks; over-long values become unmatchable."""
    text = pc.utf8_trim_whitespace(as_strings(values).drop_null())
    text = text.filter(pc.greater(pc.utf8_length(text), 0))
    too_long = pc.greater(pc.utf8_length(text), MAX_VALUE_LENGTH)
    if pc.any(too_long).as_py():
        text = pc.if_else(too_long, "\x00", text)
    return as_strings(text)


def pattern_hits(pattern: Pattern, values: pa.StringArray) -> np.ndarray:
    """Boolean mask of values that match the regex and pass the validator."""
    hits = matches(values, pattern.regex, pattern.ignore_case)
    if pattern.validator is not None and hits.any():
        hits[hits] = pattern.validator(values.filter(pa.array(hits)))
    return hits


def _hits(patterns: Sequence[Pattern], values: pa.StringArray) -> np.ndarray:
    hits = np.zeros(len(values), dtype=bool)
    for pattern in patterns:
        rest = ~hits
        if not rest.any():
            break
        if rest.all():
            hits = pattern_hits(pattern, values)
        else:
            hits[rest] = pattern_hits(pattern, values.filter(pa.array(rest)))
    return hits


def _probe(values: pa.StringArray) -> pa.StringArray:
    """An evenly spread subset of the sample (samples can be clustered by storage block)."""
    indices = np.linspace(0, len(values) - 1, _PROBE_SIZE).astype(np.int64)
    return values.take(pa.array(indices))


def evaluate(
    classifier: Classifier, table: str, column: str, kind: ValueKind, values: pa.StringArray, threshold: float
) -> Candidate | None:
    """The classifier's hit rate on the prepared sample, or None if it cannot apply."""
    if classifier.name is not None and classifier.name.excludes(column):
        return None
    name_matched = classifier.name_matches(table, column)
    if classifier.name_required and not name_matched:
        return None
    patterns = classifier.patterns_for(kind, name_matched)
    if not patterns or len(values) == 0:
        return None
    if len(values) > 2 * _PROBE_SIZE:
        probe_rate = float(_hits(patterns, _probe(values)).mean())
        if probe_rate < threshold / 2:
            return Candidate(classifier, probe_rate, name_matched, exact=False) if probe_rate else None
    rate = float(_hits(patterns, values).mean())
    return Candidate(classifier, rate, name_matched) if rate else None


def value_hits(
    classifier: Classifier, table: str, column: str, arrow_type: pa.DataType, values: pa.Array
) -> np.ndarray:
    """Per-value hits of a classifier on a column without nulls or blanks (for evaluation)."""
    kind = value_kind(arrow_type)
    name_matched = classifier.name_matches(table, column)
    if kind is None or (classifier.name_required and not name_matched):
        return np.zeros(len(values), dtype=bool)
    return _hits(classifier.patterns_for(kind, name_matched), prepare(values))


def classify_column(
    table: str,
    column: str,
    arrow_type: pa.DataType,
    values: pa.Array | pa.ChunkedArray,
    threshold: float = DEFAULT_THRESHOLD,
    classifiers: Sequence[Classifier] = BUILTIN_CLASSIFIERS,
) -> ColumnResult:
    """Classify one sampled column. ``arrow_type`` is the column's type in the catalog; the
    sampled ``values`` may arrive as text (the sampler casts at the source)."""
    kind = value_kind(arrow_type)
    if kind is None:
        return ColumnResult(table, column, None, 0)
    prepared = prepare(values)
    candidates = [
        c for c in (evaluate(k, table, column, kind, prepared, threshold) for k in classifiers) if c is not None
    ]
    candidates.sort(key=lambda c: c.rank, reverse=True)
    qualified = [c for c in candidates if c.exact and c.hit_rate >= threshold]
    winner = max(qualified, key=lambda c: c.rank) if qualified else None
    return ColumnResult(table, column, kind, len(prepared), winner, tuple(candidates))


def classify_table(
    table: str,
    sample: pa.Table,
    types: dict[str, pa.DataType] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    classifiers: Sequence[Classifier] = BUILTIN_CLASSIFIERS,
) -> list[ColumnResult]:
    """Classify every column of a sample; ``types`` gives catalog types where the sample's differ."""
    types = types or {}
    return [
        classify_column(
            table, name, types.get(name, sample.schema.field(name).type), sample.column(name), threshold, classifiers
        )
        for name in sample.column_names
    ]
