"""The settings every codebook method has (GRACE, BalancEdit): where the codebook sits, how it gates, how an
entry's output is trained."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from amend.changes.codebook import DISTANCES, POOLINGS, REPLACEMENTS
from amend.errors import ConfigError
from amend.methods.config import MethodConfig, option


@dataclasses.dataclass(frozen=True)
class CodebookConfig(MethodConfig):
    """Fields shared by the codebook methods. ``DEPTH`` (a class constant) places the default layer at that
    fraction of the model's depth."""

    DEPTH: ClassVar[float] = 1.0

    layer: int = option(-1, "Layer whose MLP output projection the codebook wraps (-1: the method's default depth).")
    distance: str = option("euclidean", "Distance between a query and a key: 'euclidean' or 'cosine'.")
    pooling: str = option(
        "token",
        "Query at a position: the sub-layer's input there ('token') or the mean of the row's inputs up to it "
        "('prefix_mean').",
    )
    replacement: str = option(
        "replace_last",
        "Where a firing entry replaces the output: at the positions that fire ('replace_last'), or there and at every "
        "later position of the row ('replace_all').",
    )
    initial_radius: float = option(1.0, "ε_init: radius of a new entry before any conflict rule (GRACE).")
    expansion: str = option("coverage", "A same-label overlap grows the entry: 'coverage' or 'moving_average'.")
    steps: int = option(100, "Optimisation steps of the entry's output.")
    lr: float = option(1.0, "Adam learning rate of the entry's output.")
    adam_eps: float = option(1e-8, "Adam's ε.")
    partial_forward: bool = option(
        True,
        "After the first step, run only the layers from the codebook's on (checked once against the full forward; "
        "the patch log says 'checked' or why not).",
    )
    stop_nll: float = option(
        0.0, "Stop early once the mean NLL of the target tokens is below this (0: run every step, as the references)."
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, allowed in (("distance", DISTANCES), ("pooling", POOLINGS), ("replacement", REPLACEMENTS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if self.expansion not in ("coverage", "moving_average"):
            raise ConfigError(f"expansion must be 'coverage' or 'moving_average', not {self.expansion!r}")
        if self.steps < 1:
            raise ConfigError("steps must be at least 1")
        if self.initial_radius < 0 or self.lr <= 0 or self.adam_eps <= 0:
            raise ConfigError("initial_radius must be ≥ 0, lr and adam_eps > 0")

    @classmethod
    def arch_derived(cls, model_config: Any, values: dict[str, Any]) -> dict[str, Any]:
        n_layers = model_config.num_hidden_layers
        return {"layer": min(n_layers - 1, round(cls.DEPTH * (n_layers - 1)))}
