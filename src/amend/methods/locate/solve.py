"""Closed-form pieces of the locate-then-edit updates, kept apart from the optimisation and the hooks."""

from __future__ import annotations

import torch

from amend.errors import EditFailed
from amend.stats import SecondMoment


def covariance(moment: SecondMoment, d_in: int) -> torch.Tensor:
    """E[k kᵀ] in float64, refusing statistics too small to determine it."""
    if moment.count < d_in:
        raise EditFailed(
            f"key statistics over {moment.count} tokens cannot determine a {d_in}×{d_in} second moment; "
            "raise stats_tokens or give a larger corpus"
        )
    return moment.mean().double()


def solve_spd(matrix: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """matrix⁻¹ rhs in float64, with a clear error when the matrix is singular."""
    try:
        return torch.linalg.solve(matrix.double(), rhs.double())
    except RuntimeError as err:  # torch raises _LinAlgError (a RuntimeError) on singular input
        raise EditFailed(f"singular system in the closed-form update ({err})") from err
