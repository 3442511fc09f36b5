"""AlphaEdit's update rule (spec §3); the loop over layers is :class:`~amend.methods.locate.batch.BatchLocateMethod`.

At each layer, with P the null-space projector of the preserved keys and C_p = Σ k kᵀ over earlier edits' keys:

    X = (P (K Kᵀ + C_p) + α I)⁻¹ P K Rᵀ,        ΔW = Xᵀ        (so P X = X: the update lives in P's range)

After the batch, each layer's keys are recomputed on the edited model and added to C_p (the editor's state).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from amend.methods.alphaedit.config import AlphaEditConfig
from amend.methods.locate.batch import BatchLocateMethod
from amend.methods.locate.common import key_moments, stats_corpus
from amend.methods.locate.keys import subject_keys
from amend.methods.locate.solve import solve_spd
from amend.requests import EditRequest
from amend.stats.projector import null_space_projector


def state_key(layer: int) -> str:
    return f"alphaedit.previous_keys.{layer}"


class AlphaEdit(BatchLocateMethod):
    name = "alphaedit"
    config_cls = AlphaEditConfig
    config: AlphaEditConfig

    def layer_update(self, layer: int, keys: torch.Tensor, residual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        projector = self.projectors()[layer].to(keys.device)
        self.keep(f"projector.{layer}", projector)
        k = keys.T  # (d_in, n)
        previous = self.resources.state.get(state_key(layer))
        accumulated = k @ k.T if previous is None else k @ k.T + previous.to(k)
        system = projector @ accumulated + self.config.l2 * torch.eye(k.shape[0], dtype=k.dtype, device=k.device)
        right = solve_spd(system, projector @ k).T  # (n, d_in): ΔW = R (M⁻¹ P K)ᵀ = (M⁻¹ P K Rᵀ)ᵀ
        return residual.T, right

    def after_batch(self, requests: Sequence[EditRequest], templates) -> None:
        state = self.resources.state
        for layer in sorted(self.config.layers):
            keys = subject_keys(
                self.anatomy, self.tokenizer, requests, templates, layer, rule=self.config.fact_token, average="grouped"
            ).double()
            outer = keys.T @ keys
            state[state_key(layer)] = outer if state_key(layer) not in state else state[state_key(layer)] + outer

    def projectors(self) -> dict[int, torch.Tensor]:
        """P per layer: cached beside the statistics, or (for statistics the caller gave) computed here."""
        if not hasattr(self, "_projectors"):
            config, resources = self.config, self.resources
            given = [layer for layer in config.layers if layer in resources.statistics]
            rest = [layer for layer in config.layers if layer not in resources.statistics]
            self._projectors = {}
            if rest:
                self._projectors = resources.stats.projectors(
                    self.anatomy,
                    self.tokenizer,
                    rest,
                    stats_corpus(self),
                    config.stats_settings(),
                    config.nullspace_threshold,
                    config.threshold_mode,
                    progress=resources.progress,
                    model_id=resources.base_fingerprint,
                    present_id=resources.present_fingerprint,
                )
            for layer, moment in key_moments(self, config, given).items():
                self._projectors[layer] = null_space_projector(
                    moment.mean().double(), config.nullspace_threshold, config.threshold_mode
                )
        return self._projectors
