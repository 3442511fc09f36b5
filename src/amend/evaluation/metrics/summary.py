"""Summaries across metrics of one protocol."""

from __future__ import annotations

from collections.abc import Sequence


def harmonic_mean(values: Sequence[float]) -> float:
    """The harmonic mean (BalancEdit's summary of text generality, image generality and locality): 0 when any
    value is 0, so a method cannot hide a failed part behind good ones."""
    if not values:
        raise ValueError("the harmonic mean of no values")
    if any(value < 0 for value in values):
        raise ValueError(f"harmonic mean of negative values {list(values)}")
    if any(value == 0 for value in values):
        return 0.0
    return len(values) / sum(1 / value for value in values)
