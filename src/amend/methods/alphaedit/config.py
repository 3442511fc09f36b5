"""AlphaEdit's configuration (spec §3, §7): MEMIT's settings plus the null-space threshold and the L2 term."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from amend.errors import ConfigError
from amend.methods.config import option
from amend.methods.memit.config import MemitConfig


@dataclasses.dataclass(frozen=True)
class AlphaEditConfig(MemitConfig):
    """AlphaEdit (Fang et al., ICLR 2025, arXiv 2410.02355): MEMIT's targets and keys, with each update projected
    onto the null space of the preserved keys and the keys of earlier edits folded into the solve.

    ``mom2_update_weight`` is unused by the update (there is no λC term); the statistics only build P.
    """

    method: ClassVar[str] = "alphaedit"
    ARCH_DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = MemitConfig.ARCH_DEFAULTS
    UNITS: ClassVar[dict[str, str]] = {**MemitConfig.UNITS, "nullspace_threshold": "threshold_mode"}

    nullspace_threshold: float = option(0.02, "τ: eigenvalues of E[kkᵀ] below it span the null space.")
    threshold_mode: str = option(
        "absolute", "'absolute': τ in the units of E[kkᵀ] (reference code); 'relative': τ × the largest eigenvalue."
    )
    l2: float = option(10.0, "α of the αI term in the solve (reference code 10; the paper's formula has 1).")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.threshold_mode not in {"absolute", "relative"}:
            raise ConfigError(f"threshold_mode must be 'absolute' or 'relative', not {self.threshold_mode!r}")
        if self.l2 <= 0:
            raise ConfigError(f"l2 must be positive, got {self.l2}")
