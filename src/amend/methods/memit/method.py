"""MEMIT's update rule (spec §2); the loop over layers is :class:`~amend.methods.locate.batch.BatchLocateMethod`.

ΔW_ℓ = R Kᵀ (λ C_ℓ + K Kᵀ)⁻¹        solved in float64, stored as factors R and ((λC + KKᵀ)⁻¹ K)ᵀ

(λ is ``MemitConfig.mom2_weight``: absolute, or relative to the key width.)
"""

from __future__ import annotations

import torch

from amend.methods.locate.batch import BatchLocateMethod
from amend.methods.locate.common import factored_covariance
from amend.methods.memit.config import MemitConfig


class Memit(BatchLocateMethod):
    name = "memit"
    config_cls = MemitConfig
    config: MemitConfig

    def layer_update(self, layer: int, keys: torch.Tensor, residual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k = keys.T  # (d_in, n)
        weight = self.log["lambda"] = self.config.mom2_weight(k.shape[0])
        cov = factored_covariance(self, layer, self.covariances[layer].to(keys.device))
        right = cov.solve_with_update(weight, k).T  # ((λC + KKᵀ)⁻¹ K)ᵀ, (n, d_in)
        return residual.T, right  # (d_out, n), (n, d_in)
