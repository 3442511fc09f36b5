"""PMET (spec §4): MEMIT's update rule with targets at the MLP output and a √ residual split.

* The target is optimised at the last edited layer L jointly at two sites, the attention output and the MLP
  output (each with its own δ, decay and clamp); only the MLP target z_mlp is written.
* The residual is measured where the target lives: R = z_mlp − (current MLP output of layer L on the bare prompt).
* At the i-th of m layers, ΔW = (R / √(m − i)) Kᵀ (λC + KKᵀ)⁻¹: the closed form of :class:`Memit`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from amend.architectures import Component, Site
from amend.methods.locate.target import TargetResult, TargetSettings, optimise_targets
from amend.methods.memit.method import Memit
from amend.methods.pmet.config import PmetConfig
from amend.records import EditRequest


class Pmet(Memit):
    name = "pmet"
    config_cls = PmetConfig
    config: PmetConfig

    def target_site(self, last: int) -> Site:
        return Site(Component.MLP_OUTPUT, last)

    def optimise(
        self,
        requests: Sequence[EditRequest],
        templates: list[str],
        site: Site,
        settings: TargetSettings,
        answer: Callable[[EditRequest], str],
    ) -> TargetResult:
        """The MLP target, optimised together with a δ at the same layer's attention output (not written)."""
        sites = [site, Site(Component.ATTN_OUTPUT, site.layer)]
        return optimise_targets(self.anatomy, self.tokenizer, requests, templates, sites, settings, answer=answer)

    def residual_share(self, layers_left: int) -> float:
        return math.sqrt(layers_left)
