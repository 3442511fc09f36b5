"""FT-L's and FT-M's configurations: fine-tuning of MLP output projections with an L∞ bound on the change."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from amend.errors import ConfigError
from amend.methods.config import MethodConfig, option
from amend.methods.finetune.objective import OBJECTIVES

# EasyEdit's FT layer on Llama-2-7B (21 of 32 layers); other depths scale it.
REFERENCE_DEPTH = 21 / 31


@dataclasses.dataclass(frozen=True)
class FineTuneConfig(MethodConfig):
    """Fine-tuning of the MLP output projection at ``layers`` by Adam, each weight kept within ``norm_constraint``
    of its original value (entry by entry, L∞; the ROME paper's "+L" baseline). The defaults are EasyEdit's
    (25 steps at 5e-4, ε 5e-5); the change is written as a dense weight delta."""

    method: ClassVar[str] = "ft-l"

    layers: tuple[int, ...] = option((), "Layers whose MLP output projection is fine-tuned (empty: the default).")
    steps: int = option(25, "Adam steps over the whole batch.")
    lr: float = option(5e-4, "Adam learning rate.")
    weight_decay: float = option(0.0, "Adam weight decay.")
    norm_constraint: float = option(
        5e-5, "Each weight stays within this of its original value (L∞); 0 leaves it unconstrained."
    )
    objective: str = option(
        "prompt_last",
        "'prompt_last' (every target token scored at the last prompt position, EasyEdit's FT-L) or 'target' (the "
        "target tokens teacher-forced after the prompt, FT-M).",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}, not {self.objective!r}")
        if self.steps < 1 or self.lr <= 0 or self.norm_constraint < 0 or self.weight_decay < 0:
            raise ConfigError("steps must be ≥ 1, lr > 0, norm_constraint and weight_decay ≥ 0")

    @classmethod
    def arch_derived(cls, model_config: Any, values: dict[str, Any]) -> dict[str, Any]:
        n_layers = model_config.num_hidden_layers
        return {"layers": (min(n_layers - 1, round(REFERENCE_DEPTH * (n_layers - 1))),)}


@dataclasses.dataclass(frozen=True)
class FineTuneMConfig(FineTuneConfig):
    """FT-M (EasyEdit): FT-L's fine-tuning with the loss on the target tokens only, teacher-forced after the
    prompt."""

    method: ClassVar[str] = "ft-m"

    objective: str = option("target", "'target' (FT-M) or 'prompt_last' (FT-L's objective).")
