"""PMET's configuration (spec §4, §7): MEMIT's fields with the reference code's GPT-J settings as defaults."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from amend.methods.config import option
from amend.methods.memit.config import GPTJ_KEY_WIDTH, MemitConfig, relative_lambda


@dataclasses.dataclass(frozen=True)
class PmetConfig(MemitConfig):
    """PMET (Li et al., AAAI 2024, arXiv 2308.08742): the attention and MLP outputs of the last edited layer are
    optimised jointly, and only the MLP target is written, with MEMIT's closed form and a √ residual split.

    The reference code ships GPT-J settings only (layers 3–8, λ 6000, 30 steps, lr 0.2, κ 1); they are the
    defaults for every architecture, with MEMIT's layer range scaled to depth and λ relative to the key width (GPT-J
    gets exactly 6000). A model whose testbed gives no PMET
    settings but gives MEMIT's (the knowledge world) uses those.
    """

    method: ClassVar[str] = "pmet"
    ARCH_DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {"*": relative_lambda(6000.0, GPTJ_KEY_WIDTH)}
    DEFAULTS_FALLBACK: ClassVar[tuple[str, ...]] = ("memit",)

    mom2_update_weight: float = option(
        6000.0, "λ, weight of the preserved-key covariance C in λC + KKᵀ (with lambda_mode 'relative': ρ, λ = ρ·d_in)."
    )
    v_num_grad_steps: int = option(30, "Iterations of the joint target optimisation (at most N-1 Adam steps).")
    v_lr: float = option(0.2, "Adam learning rate of the joint target optimisation.")
    kl_factor: float = option(1.0, "Weight κ of the mean KL(p_δ‖p_0) over the KL prompts (kl_prompts).")
    argmax_nll_factor: float = option(0.1, "Weight of the NLL while the target is already the argmax at every label.")
    argmax_kl_stop: float | None = option(0.01, "Stop once the target is the argmax everywhere and κ·KL ≤ this.")
