"""ROME's update rule (spec §1); keys, targets and statistics come from :mod:`amend.methods.locate`.

For each request, in order (each update is in place before the next request is computed):

    u  = C⁻¹k̄ / ‖C⁻¹k̄‖            (k̄/‖k̄‖ without mom2_adjustment)
    r  = (v* − (W k_b + b)) / (k_b · u)
    ΔW = r uᵀ                        so that (W + ΔW) k_b = v*

k̄ is the key averaged over the context templates and k_b the bare prompt's key ('original' mode), or k̄ in both
places ('consistent' mode, r-ROME).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from amend.architectures import Component, Site, weights
from amend.changes import Journal, WeightDelta
from amend.methods.base import EditMethod
from amend.methods.locate.common import context_templates, factored_covariance, key_covariances
from amend.methods.locate.keys import bare_keys, subject_keys
from amend.methods.locate.solve import Factored
from amend.methods.locate.target import optimise_targets
from amend.methods.rome.config import RomeConfig
from amend.requests import EditRequest


class Rome(EditMethod):
    name = "rome"
    config_cls = RomeConfig
    config: RomeConfig

    def write(self, requests: Sequence[EditRequest], journal: Journal) -> None:
        config = self.config
        layer = config.layer
        module_name = self.anatomy.mlp_out_proj_name(layer)
        module = self.anatomy.module(module_name)
        templates = context_templates(self, config)
        cov = None
        if config.mom2_adjustment:
            cov = factored_covariance(self, layer, key_covariances(self, config, [layer])[layer])
        self.log.update(templates=templates.flat(), requests=[])
        for request in requests:
            mean_key = subject_keys(
                self.anatomy, self.tokenizer, [request], templates, layer, rule=config.fact_token, average="flat"
            )[0]
            target = optimise_targets(
                self.anatomy,
                self.tokenizer,
                [request],
                templates.flat(),
                Site(Component.MLP_OUTPUT, layer),
                config.target_settings(),
            )
            if config.key_mode == "original":
                key = bare_keys(self.anatomy, self.tokenizer, [request], layer, rule=config.fact_token)[0]
            else:
                key = mean_key
            left, right = rank_one_update(module, mean_key, key, target.target[0], cov)
            journal.add(WeightDelta(module_name, left, right))
            prefix = f"{len(self.log['requests'])}."
            for name, value in (("mean_key", mean_key), ("key", key), ("init", target.init[0])):
                self.keep(prefix + name, value)
            self.keep(prefix + "target", target.target[0])
            self.keep(prefix + "u", right[0])
            self.keep(prefix + "r", left[:, 0])
            self.log["requests"].append(
                {
                    "id": request.record_id,
                    "iterations": target.iterations[0],
                    "loss": target.losses[0],
                    "forward_passes": target.forward_passes,
                    "backward_passes": target.backward_passes,
                    "partial_forward": target.partial_forward,
                }
            )


def rank_one_update(
    module: torch.nn.Module,
    direction_key: torch.Tensor,
    key: torch.Tensor,
    target: torch.Tensor,
    cov: torch.Tensor | Factored | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Factors (r as (out, 1), uᵀ as (1, in)) of the ROME update, computed in float64. ``cov`` is C or its
    factorisation (one per layer, reused for every request)."""
    if isinstance(cov, torch.Tensor):
        cov = Factored(cov)
    direction = cov.solve(direction_key) if cov is not None else direction_key.double()
    u = direction / direction.norm()
    key = key.double().to(u.device)
    current = weights.apply_map(module, key[None].to(module.weight.device).double())[0].to(u.device)
    r = (target.double().to(u.device) - current) / (key @ u)
    return r[:, None].float(), u[None, :].float()
