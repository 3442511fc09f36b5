"""GRACE's configuration: the reference code's defaults (spec memory-incontext-eval.md §2)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from amend.errors import ConfigError
from amend.methods.config import option
from amend.methods.memory.config import CodebookConfig


@dataclasses.dataclass(frozen=True)
class GraceConfig(CodebookConfig):
    """GRACE (Hartvigsen et al., NeurIPS 2023, arXiv 2211.11031): a codebook of value vectors at one MLP output
    projection. Each fact's key is the sub-layer's input at the edit prompt's last token; a trained value replaces
    the sub-layer's output wherever a query falls within an entry's deferral radius.

    Defaults are the reference code's: ε_init 1.0, Euclidean distance, coverage expansion, cold values, 100 Adam
    steps at learning rate 1.0, ``replace_last``. The default layer sits at 84 % of the depth (EasyEdit's Llama-2-7B
    layer 27 of 32; GPT2-XL used 35 of 48).
    """

    method: ClassVar[str] = "grace"
    DEPTH: ClassVar[float] = 27 / 31

    value_init: str = option(
        "cold",
        "A new value starts as uniform noise in [0, 1) ('cold', the reference) or the sub-layer's output "
        "at the key position ('warm').",
    )
    seed: int = option(0, "Seed of the cold value initialisation (the value of request i uses seed + i).")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.value_init not in ("cold", "warm"):
            raise ConfigError(f"value_init must be 'cold' or 'warm', not {self.value_init!r}")
