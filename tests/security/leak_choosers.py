"""Where the leak-suite statement generator (:mod:`tests.security.leak_sql`) takes its choices:
Hypothesis's ``draw`` (failures shrink to a small statement) or a seeded ``random.Random`` (long
exploratory runs without Hypothesis)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from hypothesis import strategies as st

T = TypeVar("T")


class Chooser(Protocol):
    def choice(self, options: Sequence[T]) -> T: ...
    def integer(self, low: int, high: int) -> int: ...
    def chance(self, probability: float) -> bool: ...


@dataclass
class HypothesisChooser:
    draw: Callable[[st.SearchStrategy[object]], object]

    def choice(self, options: Sequence[T]) -> T:
        return self.draw(st.sampled_from(options))  # type: ignore[return-value]

    def integer(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))  # type: ignore[return-value]

    def chance(self, probability: float) -> bool:
        # Shrinks towards False (the simpler statement).
        return self.draw(st.integers(0, 99)) >= round(100 * (1 - probability))  # type: ignore[operator]


@dataclass
class RandomChooser:
    rng: random.Random

    def choice(self, options: Sequence[T]) -> T:
        return self.rng.choice(list(options))

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability
