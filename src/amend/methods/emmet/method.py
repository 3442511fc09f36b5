"""EMMET's update rule (spec §4); the loop over layers is :class:`~amend.methods.locate.batch.BatchLocateMethod`.

With K the batch's keys (d_in × n) and R the residual share of this layer:

    C̃ = λC + μI,    D = Kᵀ C̃⁻¹ K + εI,    ΔW = R D⁻¹ Kᵀ C̃⁻¹

so ΔW K = R (I − ε D⁻¹): with ε = 0 every key is mapped exactly to its value, (W + ΔW)K = WK + R = V. Computed in
float64; when D cannot be inverted reliably (two requests with the same key and ε = 0), its pseudo-inverse is
used instead, which still satisfies every constraint the batch can satisfy at once.
"""

from __future__ import annotations

import torch

from amend.methods.emmet.config import EmmetConfig
from amend.methods.locate.batch import BatchLocateMethod
from amend.methods.locate.common import factored_covariance
from amend.methods.locate.solve import inverse_or_pinv


class Emmet(BatchLocateMethod):
    name = "emmet"
    config_cls = EmmetConfig
    config: EmmetConfig

    def layer_update(self, layer: int, keys: torch.Tensor, residual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        config = self.config
        k = keys.T  # (d_in, n)
        weight = config.mom2_weight(k.shape[0])
        ridge = config.update_norm_lambda / weight
        preserved = factored_covariance(self, layer, self.covariances[layer].to(k), ridge)  # C + (μ/λ) I
        weighted = preserved.solve(k) / weight  # C̃⁻¹K = (λC + μI)⁻¹K, (d_in, n)
        d = k.T @ weighted + config.emmet_lambda * torch.eye(k.shape[1], dtype=k.dtype, device=k.device)
        d_inv, pseudo = inverse_or_pinv(d)
        if pseudo:
            self.log.setdefault("pseudo_inverse_layers", []).append(layer)
        return residual.T, d_inv @ weighted.T  # (d_out, n), (n, d_in)
