"""LoRA's configuration (EasyEdit's defaults where they apply)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from amend.errors import ConfigError
from amend.methods.config import MethodConfig, option


@dataclasses.dataclass(frozen=True)
class LoraConfig(MethodConfig):
    """LoRA (Hu et al., 2021) on the MLP output projections of ``layers``, trained with peft on the target tokens
    (teacher-forced, FT-M's loss). EasyEdit's defaults: rank 8, α 32, 70 steps at 5e-3; dropout is 0 here so that an
    edit is deterministic (EasyEdit 0.1). ``merged`` writes B·A·α/r as a low-rank weight delta; otherwise the patch
    attaches the adapter itself (:class:`amend.methods.lora.adapter.LoraAdapter`) and the weights never change."""

    method: ClassVar[str] = "lora"

    layers: tuple[int, ...] = option((), "Layers whose MLP output projection gets an adapter (empty: every layer).")
    rank: int = option(8, "r, the adapter's rank.")
    alpha: float = option(32.0, "α: the update is scaled by α / r.")
    steps: int = option(70, "Adam steps over the whole batch.")
    lr: float = option(5e-3, "Adam learning rate.")
    weight_decay: float = option(0.0, "Adam weight decay.")
    merged: bool = option(True, "Write the update into the weights (a low-rank delta) rather than attach the adapter.")
    seed: int = option(0, "Seed of A's random initialisation (B starts at zero, as peft does).")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rank < 1 or self.steps < 1 or self.lr <= 0 or self.alpha <= 0 or self.weight_decay < 0:
            raise ConfigError("rank and steps must be ≥ 1, lr and alpha > 0, weight_decay ≥ 0")

    @classmethod
    def arch_derived(cls, model_config: Any, values: dict[str, Any]) -> dict[str, Any]:
        return {"layers": tuple(range(model_config.num_hidden_layers))}
