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

# MLP widths (the key dimension d_in) of the models the reference λ values were tuned on.
GPT2_XL_KEY_WIDTH = 6400
GPTJ_KEY_WIDTH = 16384
LLAMA3_8B_KEY_WIDTH = 14336
LLAMA32_3B_KEY_WIDTH = 8192


def relative_lambda(reference: float, reference_width: int) -> dict[str, Any]:
    """A reference λ as settings that carry across model sizes: λ = ρ · d_in with ρ = reference / reference_width, so
    the reference model gets exactly its λ and a model with a narrower MLP a proportionally smaller one."""
    return {"mom2_update_weight": reference / reference_width, "lambda_mode": "relative"}


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
    partially edited model; the defaults are those of the reference code, with λ made relative.

    Why λ is relative by default: one key k alone is written at a layer by the fraction s / (λ + s), s = kᵀC⁻¹k.
    Over the statistics corpus the mean of kᵀC⁻¹k is exactly d_in (the trace of C⁻¹C), and subject keys sit at a
    few times that, so s grows with the MLP width: the reference λ = 15,000 of Llama-3-8B (d_in 14,336) writes
    about a fifth of a key per layer on SmolLM2 (d_in 1,536). ``lambda_mode="relative"`` reads λ as ρ · d_in
    (= ρ times the corpus mean of kᵀC⁻¹k); the architecture defaults are the reference λ over the reference model's
    d_in, so that model gets exactly its λ. A λ given without ``lambda_mode`` is absolute.
    """

    method: ClassVar[str] = "memit"
    UNITS: ClassVar[dict[str, str]] = {"mom2_update_weight": "lambda_mode"}
    ARCH_DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {
        "gpt2": {**relative_lambda(20000.0, GPT2_XL_KEY_WIDTH), "v_num_grad_steps": 20},
        "gptj": {**relative_lambda(15000.0, GPTJ_KEY_WIDTH), "v_num_grad_steps": 25},
        "llama": {**relative_lambda(15000.0, LLAMA3_8B_KEY_WIDTH), "v_num_grad_steps": 25, "v_lr": 0.1},
        "*": relative_lambda(15000.0, LLAMA3_8B_KEY_WIDTH),
    }

    layers: tuple[int, ...] = option((), "Edited layers (empty: the architecture default range, scaled to depth).")
    mom2_update_weight: float = option(
        15000.0, "λ, weight of the preserved-key covariance C in λC + KKᵀ (with lambda_mode 'relative': ρ, λ = ρ·d_in)."
    )
    lambda_mode: str = option(
        "absolute",
        "'absolute': λ as given (reference code); 'relative': λ × d_in, the corpus mean of kᵀC⁻¹k, so it carries "
        "across model sizes.",
    )
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
        if self.lambda_mode not in {"absolute", "relative"}:
            raise ConfigError(f"lambda_mode must be 'absolute' or 'relative', not {self.lambda_mode!r}")

    def mom2_weight(self, key_width: int) -> float:
        """The λ an update uses at a layer whose keys have ``key_width`` dimensions."""
        return self.mom2_update_weight * (key_width if self.lambda_mode == "relative" else 1)

    @classmethod
    def arch_derived(cls, model_config: Any, values: dict[str, Any]) -> dict[str, Any]:
        return {"layers": scaled_layers(model_config)}
