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
        projected = projector @ k  # P K, (d_in, n)
        system = projected @ k.T + self.config.l2 * torch.eye(k.shape[0], dtype=k.dtype, device=k.device)
        previous = self.projected_previous(layer, projector)
        if previous is not None:
            system = system + previous.to(k)  # P (K Kᵀ + C_p) + αI, without a d³ product per batch
        right = solve_spd(system, projected).T  # (n, d_in): ΔW = R (M⁻¹ P K)ᵀ = (M⁻¹ P K Rᵀ)ᵀ
        return residual.T, right

    def projected_previous(self, layer: int, projector: torch.Tensor) -> torch.Tensor | None:
        """P C_p of ``layer``: computed once from the state, then kept up to date as each batch adds its keys
        (:meth:`after_batch`), for as long as the state tensor it was computed from is the editor's."""
        previous = self.resources.state.get(state_key(layer))
        if previous is None:
            return None
        kept = self.resources.factored.get(("projected_previous", layer))
        if kept is None or kept[0] is not previous:
            kept = (previous, projector @ previous.to(projector))
            self.resources.factored[("projected_previous", layer)] = kept
        return kept[1]

    def after_batch(self, requests: Sequence[EditRequest], templates) -> None:
        state = self.resources.state
        for layer in sorted(self.config.layers):
            keys = subject_keys(
                self.anatomy, self.tokenizer, requests, templates, layer, rule=self.config.fact_token, average="grouped"
            ).double()
            outer = keys.T @ keys
            old = state.get(state_key(layer))
            state[state_key(layer)] = outer if old is None else old + outer
            kept = self.resources.factored.get(("projected_previous", layer))
            if kept is not None and kept[0] is old:  # P (C_p + K Kᵀ) = P C_p + (P Kᵀ) K: O(d² n)
                projector = self.projectors()[layer].to(keys)
                update = (projector @ keys.T) @ keys
                self.resources.factored[("projected_previous", layer)] = (state[state_key(layer)], kept[1] + update)

    def projectors(self) -> dict[int, torch.Tensor]:
        """P per layer: cached beside the statistics, or (for statistics the caller gave) computed here; loaded
        once per editor."""
        config, resources = self.config, self.resources
        if "projectors" not in resources.factored:
            given = [layer for layer in config.layers if layer in resources.statistics]
            rest = [layer for layer in config.layers if layer not in resources.statistics]
            projectors = {}
            if rest:
                projectors = resources.stats.projectors(
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
                projectors[layer] = null_space_projector(
                    moment.mean().double(), config.nullspace_threshold, config.threshold_mode
                )
            resources.factored["projectors"] = projectors
        return resources.factored["projectors"]
