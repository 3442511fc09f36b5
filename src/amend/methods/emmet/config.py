"""EMMET's configuration (spec §4, §7): MEMIT's fields plus the equality constraint's two regularisers."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from amend.errors import ConfigError
from amend.methods.config import option
from amend.methods.memit.config import (
    GPT2_XL_KEY_WIDTH,
    GPTJ_KEY_WIDTH,
    LLAMA32_3B_KEY_WIDTH,
    MemitConfig,
    relative_lambda,
    scaled_layers,
)

# EasyEdit's EMMET configs edit one layer: (first, last, depth of the reference model).
REFERENCE_LAYERS: dict[str, tuple[int, int, int]] = {
    "gpt2": (17, 17, 48),  # GPT-2 XL
    "gptj": (5, 5, 28),  # GPT-J-6B
    "llama": (5, 5, 28),  # Llama-3.2-3B
}


@dataclasses.dataclass(frozen=True)
class EmmetConfig(MemitConfig):
    """EMMET (Gupta et al., "A Unified Framework for Model Editing", arXiv 2403.14236): the batch's keys are
    written as equality constraints, (W + Δ)K = V, while Δ disturbs the preserved keys least.

    Defaults follow EasyEdit's configs (one layer; λ 1e4 for GPT-2 XL, 1e5 for GPT-J and Llama-3.2-3B, made
    relative to the key width as MEMIT's, so those models get exactly these values). Only λε matters
    for the update (λ rescales C̃ and ε alike). A model whose testbed gives no EMMET settings but gives MEMIT's uses
    those.
    """

    method: ClassVar[str] = "emmet"
    ARCH_DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {
        "gpt2": {**relative_lambda(10_000.0, GPT2_XL_KEY_WIDTH), "v_num_grad_steps": 20},
        "gptj": {**relative_lambda(100_000.0, GPTJ_KEY_WIDTH), "v_num_grad_steps": 25},
        "llama": {
            **relative_lambda(100_000.0, LLAMA32_3B_KEY_WIDTH),
            "v_num_grad_steps": 25,
            "clamp_norm_factor": 4.0,
            "v_weight_decay": 1e-3,
        },
        "*": relative_lambda(100_000.0, LLAMA32_3B_KEY_WIDTH),
    }
    DEFAULTS_FALLBACK: ClassVar[tuple[str, ...]] = ("memit",)

    mom2_update_weight: float = option(
        100_000.0, "λ: C̃ = λC + μI stands for the keys the edit must preserve (relative mode: ρ, λ = ρ·d_in)."
    )
    emmet_lambda: float = option(
        0.1, "ε added to D = KᵀC̃⁻¹K against ill-conditioning (0: the equality constraint holds exactly)."
    )
    update_norm_lambda: float = option(0.0, "μ in C̃ = λC + μI: a penalty on the update's norm.")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.emmet_lambda < 0 or self.update_norm_lambda < 0:
            raise ConfigError("emmet_lambda and update_norm_lambda must not be negative")

    @classmethod
    def arch_derived(cls, model_config: Any, values: dict[str, Any]) -> dict[str, Any]:
        return {"layers": scaled_layers(model_config, REFERENCE_LAYERS, (5, 5, 28))}
