"""Where a new fact goes in a codebook: GRACE's add / split / expand rules and BalancEdit's per-fact radius.

Pure functions of distances, radii and labels, so each rule is tested on hand-built keys. Labels are compared as
whole token-id sequences (the GRACE reference compares the *means* of the label ids, which calls different labels
equal; amend does not copy that).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

# GRACE's split leaves the older entry's radius this much short of half the distance, so the two balls never touch.
SPLIT_GAP = 1e-5


@dataclass(frozen=True)
class Placement:
    """What a new fact does to the codebook.

    Attributes:
        action: ``add`` (a new entry, nothing else changes), ``split`` (a new entry, and the nearest entry, which
            has another label and overlaps, shrinks to half their distance) or ``expand`` (no new entry: the nearest
            entry has the same label and grows to reach the new query).
        radius: The new entry's radius (``add``, ``split``); for ``expand``, the nearest entry's new radius.
        nearest: Index of the nearest existing entry (None in an empty codebook).
        nearest_radius: The nearest entry's radius after the placement (unchanged for ``add``).
        nearest_key: The nearest entry's key after the placement (moved only by ``moving_average`` expansion).
    """

    action: str
    radius: float
    nearest: int | None = None
    nearest_radius: float | None = None
    nearest_key: torch.Tensor | None = None


def grace_placement(
    query: torch.Tensor,
    label: Sequence[int],
    keys: torch.Tensor,
    radii: torch.Tensor,
    labels: Sequence[Sequence[int]],
    distance: torch.Tensor,
    *,
    initial_radius: float,
    expansion: str = "coverage",
) -> Placement:
    """GRACE's rule for a new query (d_in,) with target ``label`` against a codebook (``keys``, ``radii``,
    ``labels``), given the ``distance`` (n,) of the query to every key.

    No entry, or the nearest entry's ball and the new one (radius ``initial_radius``) do not overlap: add. They
    overlap and the labels differ: add, and split the radii (the older entry's to d/2 − 1e-5, the new one's to
    d/2). They overlap, the labels are equal and the query lies outside the entry's radius: expand the entry to
    reach it (``coverage``: radius d; ``moving_average``: the key moves half-way to the query and the radius
    becomes d). Equal labels and the query already inside: nothing to place (``expand`` with the radius as is)."""
    if expansion not in ("coverage", "moving_average"):
        raise ValueError(f"expansion must be coverage or moving_average, got {expansion!r}")
    if keys.shape[0] == 0:
        return Placement("add", initial_radius)
    nearest = int(distance.argmin())
    d, radius = float(distance[nearest]), float(radii[nearest])
    if d > initial_radius + radius:
        return Placement("add", initial_radius, nearest, radius, keys[nearest])
    if tuple(labels[nearest]) != tuple(label):
        return Placement("split", d / 2, nearest, d / 2 - SPLIT_GAP, keys[nearest])
    if d <= radius:
        return Placement("expand", radius, nearest, radius, keys[nearest])
    key = (keys[nearest] + query) / 2 if expansion == "moving_average" else keys[nearest]
    return Placement("expand", d, nearest, d, key)


@dataclass(frozen=True)
class BalancedRadius:
    """BalancEdit's radius of one entry and the distances it came from.

    Attributes:
        radius: ε = d⁺ + λ(d⁻ − d⁺), kept strictly below d⁻ (and at least 0).
        positive: d⁺, the distance of the positive sample (a paraphrase: to be inside).
        negative: d⁻, the distance of the negative sample (the same question about something else: outside).
        conflict: d⁺ ≥ d⁻: no radius holds the positive and not the negative; locality wins (ε < d⁻).
    """

    radius: float
    positive: float
    negative: float
    conflict: bool


def balanced_radius(positive: float, negative: float, balance: float) -> BalancedRadius:
    """ε = d⁺ + λ·(d⁻ − d⁺) with λ = ``balance`` ∈ [0, 1] (the reference code's 1 − α), clamped below d⁻.

    λ near 1 puts the boundary near the negative (generous to paraphrases), near 0 near the positive (strict)."""
    if not 0.0 <= balance <= 1.0:
        raise ValueError(f"balance must lie in [0, 1], got {balance}")
    radius = positive + balance * (negative - positive)
    below = negative * (1 - 1e-6) if negative > 0 else 0.0
    conflict = positive >= negative
    return BalancedRadius(max(0.0, min(radius, below)), positive, negative, conflict)
