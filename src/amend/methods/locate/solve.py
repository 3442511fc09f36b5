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


def inverse_or_pinv(matrix: torch.Tensor, tolerance: float = 1e-8, rtol: float = 1e-10) -> tuple[torch.Tensor, bool]:
    """matrix⁻¹ in float64, or its pseudo-inverse when the inverse fails or is not accurate to ``tolerance``
    (‖A A⁻¹ − I‖_max); returns the inverse and whether the fallback was taken.

    The pseudo-inverse drops singular values below ``rtol`` times the largest: a rank deficiency shows up in
    float64 as singular values near 1e-16 relative, which the default cut-off (n·eps) would keep and invert.
    """
    matrix = matrix.double()
    eye = torch.eye(matrix.shape[0], dtype=matrix.dtype, device=matrix.device)
    inverse, info = torch.linalg.inv_ex(matrix)
    if int(info) == 0 and torch.isfinite(inverse).all() and (matrix @ inverse - eye).abs().max() <= tolerance:
        return inverse, False
    return torch.linalg.pinv(matrix, rtol=rtol), True
