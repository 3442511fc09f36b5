"""MEMIT's configuration (spec §2, §7): edited layers, covariance weight λ, per-architecture defaults."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from amend.errors import ConfigError
from amend.methods.config import option
from amend.methods.locate.config import LocateConfig

# Edited layers of each family's reference model, and its depth: other sizes scale the range.
REFERENCE_LAYERS: dict[str, tuple[int, int, int]] = {
    "gpt2": (13, 17, 48),  # GPT-2 XL
    "gptj": (3, 8, 28),  # GPT-J-6B
    "llama": (4, 8, 32),  # Llama-3-8B
}
_DEFAULT_REFERENCE = (4, 8, 32)


def scaled_layers(
    model_config: Any,
    reference: dict[str, tuple[int, int, int]] = REFERENCE_LAYERS,
    default: tuple[int, int, int] = _DEFAULT_REFERENCE,
) -> tuple[int, ...]:
    """The reference layer range (first, last, depth of the reference model) scaled to the model's depth."""
    first, last, depth = reference.get(model_config.model_type, default)
    n = model_config.num_hidden_layers
    lo, hi = round(first * n / depth), round(last * n / depth)
    hi = min(max(hi, lo), n - 1)
    return tuple(range(min(lo, hi), hi + 1))


@dataclasses.dataclass(frozen=True)
class MemitConfig(LocateConfig):
    """MEMIT (Meng et al., ICLR 2023, arXiv 2210.07229): batched edits spread over several MLP layers.

    The update at each layer solves Δ(λC + KKᵀ) = R Kᵀ in float64, with keys and residuals recomputed on the
    partially edited model; the defaults are those of the reference code.
    """

    method: ClassVar[str] = "memit"
    ARCH_DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {
        "gpt2": {"mom2_update_weight": 20000.0, "v_num_grad_steps": 20},
        "gptj": {"mom2_update_weight": 15000.0, "v_num_grad_steps": 25},
        "llama": {"mom2_update_weight": 15000.0, "v_num_grad_steps": 25, "v_lr": 0.1},
    }

    layers: tuple[int, ...] = option((), "Edited layers (empty: the architecture default range, scaled to depth).")
    mom2_update_weight: float = option(15000.0, "λ: weight of the preserved-key covariance C in λC + KKᵀ.")
    clamp_norm_factor: float = option(0.75, "δ is rescaled to at most this multiple of ‖h₀‖ after every step.")
    template_prompts: tuple[str, ...] | None = option(
        ("The", "Therefore", "Because", "I", "You"), "Texts the context templates are sampled from."
    )
    template_lengths: tuple[tuple[int, int], ...] = option(
        ((1, 10),), "(samples per template prompt, total length in tokens) pairs for sampled templates."
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.layers:
            raise ConfigError("layers is empty; give the layers to edit (for_model fills the default)")
        if len(set(self.layers)) != len(self.layers):
            raise ConfigError(f"layers {self.layers} repeat a layer")

    @classmethod
    def arch_derived(cls, model_config: Any, values: dict[str, Any]) -> dict[str, Any]:
        return {"layers": scaled_layers(model_config)}
