"""BalancEdit's configuration (spec memory-incontext-eval.md §1, §9)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from amend.errors import ConfigError
from amend.methods.config import option
from amend.methods.memory.config import CodebookConfig

NEGATIVE_IMAGES = ("black", "white", "locality")


@dataclasses.dataclass(frozen=True)
class BalancEditConfig(CodebookConfig):
    """BalancEdit (Guo, Hu, Guan, Hartvigsen, Li; ICML 2025, arXiv 2505.01343): GRACE's codebook with a trained
    copy of the wrapped sub-layer as each entry's output, and each entry's radius set from a positive sample (a
    paraphrase: inside) and a negative one (the same question about something else: outside),
    ε = d⁺ + λ(d⁻ − d⁺), kept below d⁻.

    Defaults follow the reference code where it applies to text models: the last layer, cosine distance, the key
    mean-pooled over the tokens (causally here: the mean up to each position), 50 Adam steps with Adam ε 1e-4, one
    layer copy shared by all entries. Unlike the reference, only the new entry's radius is set (the reference
    recomputes every entry's from the newest fact), λ is the weight of d⁻ (the reference's 1 − α; α = 0.25 in its
    MiniGPT-4 configuration gives λ = 0.75), the conflict rules use the fact's own radius as ε_init and the
    learning rate is 1e-3 (see the fields).
    """

    method: ClassVar[str] = "balancedit"
    DEPTH: ClassVar[float] = 1.0

    distance: str = option("cosine", "Distance between a query and a key: 'euclidean' or 'cosine'.")
    pooling: str = option(
        "prefix_mean", "Query at a position: its own input ('token') or the mean of the row's inputs up to it."
    )
    replacement: str = option(
        "replace_all",
        "Where a firing entry replaces the output: where it fires ('replace_last') or there and at every later "
        "position ('replace_all': the answer is read through the edited layer, as the reference replaces the whole "
        "sequence).",
    )
    initial_radius: float = option(
        0.0,
        "ε_init of the conflict rules; 0: the fact's own balanced radius, so two facts conflict when their balls "
        "overlap (the reference's 20 makes every later fact of a cosine codebook overlap its nearest entry, whose "
        "radius is then halved).",
    )
    steps: int = option(50, "Optimisation steps of the layer copy.")
    lr: float = option(
        1e-3, "Adam learning rate of the layer copy (the reference's 1e-4 leaves the world model's targets unlearnt)."
    )
    adam_eps: float = option(1e-4, "Adam's ε (the reference's).")
    balance: float = option(0.75, "λ in ε = d⁺ + λ(d⁻ − d⁺): 1 puts the boundary at the negative, 0 at the positive.")
    sharing: str = option(
        "shared",
        "One trained layer copy 'shared' by every entry (the reference) or one 'per_entry' (sequential "
        "edits then never retrain an earlier fact's copy, at the memory of one layer per entry).",
    )
    samples: str = option(
        "request",
        "Where the positive and negative samples come from: 'request' (its first rephrase and first locality "
        "prompt when it has them, else generated) or 'generated' (always the rule of docs/memory.md). Samples "
        "taken from the request are calibration data: evaluation leaves them out.",
    )
    negative_image: str = option(
        "black",
        "The negative of a question about an image: the same question about a 'black' or 'white' image (the "
        "reference's black one) or about the image of the request's first image-locality probe ('locality', "
        "then left out of evaluation).",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sharing not in ("shared", "per_entry"):
            raise ConfigError(f"sharing must be 'shared' or 'per_entry', not {self.sharing!r}")
        if self.samples not in ("request", "generated"):
            raise ConfigError(f"samples must be 'request' or 'generated', not {self.samples!r}")
        if self.negative_image not in NEGATIVE_IMAGES:
            raise ConfigError(f"negative_image must be one of {NEGATIVE_IMAGES}, not {self.negative_image!r}")
        if not 0.0 <= self.balance <= 1.0:
            raise ConfigError(f"balance must lie in [0, 1], got {self.balance}")
