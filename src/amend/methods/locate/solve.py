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


class Factored:
    """A symmetric positive-definite matrix factored once (Cholesky, float64) for many solves.

    ROME solves C⁻¹k for every request and MEMIT (λC + KKᵀ)⁻¹K for every batch: each an O(d³) factorisation of a
    d_ff × d_ff matrix that does not change between them (C is the unedited model's). Factored once per editor,
    each solve costs O(d²) per right-hand side; MEMIT's system is reached through the Woodbury identity.
    ``factor`` is None when the matrix is not positive definite in float64 (a rank-deficient C from a small
    corpus): callers then solve the full system as before.
    """

    def __init__(self, matrix: torch.Tensor):
        self.matrix = matrix.double()
        factor, info = torch.linalg.cholesky_ex(self.matrix)
        self.factor = factor if int(info) == 0 and bool(torch.isfinite(factor).all()) else None

    def solve(self, rhs: torch.Tensor) -> torch.Tensor:
        """matrix⁻¹ rhs for a vector or a (d, n) matrix."""
        if self.factor is None:
            return solve_spd(self.matrix, rhs)
        columns = rhs.double().reshape(rhs.shape[0], -1).to(self.factor.device)
        return torch.cholesky_solve(columns, self.factor).reshape(rhs.shape)

    def solve_with_update(self, scale: float, keys: torch.Tensor) -> torch.Tensor:
        """(scale·matrix + K Kᵀ)⁻¹ K for K (d, n), by Woodbury: X = (scale·matrix)⁻¹K, then X (I + KᵀX)⁻¹ —
        O(d²n) instead of a new O(d³) factorisation."""
        keys = keys.double()
        if self.factor is None:
            return solve_spd(scale * self.matrix + keys @ keys.T, keys)
        scaled = self.solve(keys) / scale  # (d, n)
        small = torch.eye(keys.shape[1], dtype=keys.dtype, device=keys.device) + keys.T @ scaled
        return solve_spd(small, scaled.T).T  # X S⁻¹ = (S⁻¹ Xᵀ)ᵀ, S symmetric
