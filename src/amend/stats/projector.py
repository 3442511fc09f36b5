"""Null-space projectors of key statistics (AlphaEdit, spec §3).

P = Û Ûᵀ, where Û are the eigenvectors of E[k kᵀ] whose eigenvalues are below a threshold: the directions the
preserved keys (almost) never take. An update ΔW = X P leaves W k unchanged for every key in the span the
statistics cover. ``eigh`` of the symmetric matrix gives the same subspace as the reference's SVD.
"""

from __future__ import annotations

import torch


def null_space_projector(second_moment: torch.Tensor, threshold: float, mode: str = "absolute") -> torch.Tensor:
    """P (d, d) in float64 from E[k kᵀ].

    Args:
        threshold: Eigenvalues below it span the null space.
        mode: ``"absolute"`` compares eigenvalues with ``threshold`` in the units of E[k kᵀ] (the reference code);
            ``"relative"`` compares them with ``threshold`` × the largest eigenvalue.
    """
    if mode not in {"absolute", "relative"}:
        raise ValueError(f"threshold mode must be 'absolute' or 'relative', not {mode!r}")
    values, vectors = torch.linalg.eigh(second_moment.double())
    limit = threshold if mode == "absolute" else threshold * float(values.max())
    basis = vectors[:, values < limit]
    return basis @ basis.T
