"""PMET (spec §4): MEMIT's update rule with targets at the MLP output and a √ residual split.

* The target is optimised at the last edited layer L jointly at two sites, the attention output and the MLP
  output (each with its own δ, decay and clamp); only the MLP target z_mlp is written.
* The residual is measured where the target lives: R = z_mlp − (current MLP output of layer L on the bare prompt).
* At the i-th of m layers, ΔW = (R / √(m − i)) Kᵀ (λC + KKᵀ)⁻¹: the closed form of :class:`Memit`.
"""

from __future__ import annotations

import math

from amend.architectures import Component, Site
from amend.methods.memit.method import Memit
from amend.methods.pmet.config import PmetConfig


class Pmet(Memit):
    name = "pmet"
    config_cls = PmetConfig
    config: PmetConfig

    def target_site(self, last: int) -> Site:
        return Site(Component.MLP_OUTPUT, last)

    def joint_sites(self, site: Site) -> list[Site]:
        """The MLP target is optimised together with a δ at the same layer's attention output (not written)."""
        return [Site(Component.ATTN_OUTPUT, site.layer)]

    def residual_share(self, layers_left: int) -> float:
        return math.sqrt(layers_left)
