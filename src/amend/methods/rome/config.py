"""ROME's configuration: one layer, a rank-one update, per-architecture defaults (spec §1, §7)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from amend.errors import ConfigError
from amend.methods.config import option
from amend.methods.locate.config import LocateConfig

# The layer ROME edits in each family's reference model, and that model's depth: other sizes scale it.
REFERENCE_LAYER: dict[str, tuple[int, int]] = {
    "gpt2": (17, 48),  # GPT-2 XL
    "gptj": (5, 28),  # GPT-J-6B
    "gpt_neox": (5, 44),  # GPT-NeoX-20B (ROME-style early-middle layer)
    "llama": (5, 32),  # Llama-3-8B
}
_DEFAULT_REFERENCE = (5, 32)


@dataclasses.dataclass(frozen=True)
class RomeConfig(LocateConfig):
    """ROME (Meng et al., 2022, arXiv 2202.05262): a rank-one update of one MLP output projection.

    Defaults are those of the original code, with two deliberate differences: ``mom2_adjustment`` is on (EasyEdit
    turns it off, a major departure), and the closed form is solved in float64 (the original inverts C in float32).
    """

    method: ClassVar[str] = "rome"
    ARCH_DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {
        "llama": {"v_num_grad_steps": 25, "v_weight_decay": 1e-3},
    }

    layer: int = option(-1, "Layer whose MLP output projection is rewritten (-1: the architecture default).")
    mom2_adjustment: bool = option(True, "Direction u = C⁻¹k̄ (True, the paper) rather than k̄ (EasyEdit).")
    key_mode: str = option(
        "original",
        "'original': direction from the template-averaged key, numerator and denominator from the bare key (the "
        "reference code); 'consistent': the averaged key everywhere (r-ROME), which is stabler in sequences.",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.key_mode not in {"original", "consistent"}:
            raise ConfigError(f"key_mode must be 'original' or 'consistent', not {self.key_mode!r}")
        if self.v_num_grad_steps < 1:
            raise ConfigError("v_num_grad_steps must be at least 1")

    @classmethod
    def arch_derived(cls, model_config: Any, values: dict[str, Any]) -> dict[str, Any]:
        layer, depth = REFERENCE_LAYER.get(model_config.model_type, _DEFAULT_REFERENCE)
        n_layers = model_config.num_hidden_layers
        return {"layer": min(n_layers - 1, round(layer * n_layers / depth))}
