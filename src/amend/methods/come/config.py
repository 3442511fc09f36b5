"""CoME's configuration (spec §5, §7): the base method's settings, and how the outdated fact is unlearned."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from amend.architectures.anatomy import text_config
from amend.errors import ConfigError
from amend.methods.alphaedit.config import AlphaEditConfig
from amend.methods.config import option
from amend.methods.locate.target import TargetSettings
from amend.methods.memit.config import GPTJ_KEY_WIDTH, MemitConfig, relative_lambda
from amend.methods.pmet.config import PmetConfig
from amend.testbeds.base import model_defaults as testbed_defaults

BASE_CONFIGS: dict[str, type[MemitConfig]] = {"memit": MemitConfig, "alphaedit": AlphaEditConfig, "pmet": PmetConfig}

# CoME's own reference settings where they differ from its base's (GPT-J; CoME-MEMIT keeps MEMIT's).
BASE_OVERRIDES: dict[str, dict[str, Any]] = {"pmet": relative_lambda(4500.0, GPTJ_KEY_WIDTH)}


@dataclasses.dataclass(frozen=True)
class ComeConfig(AlphaEditConfig):
    """CoME (Jung et al., NAACL 2025, arXiv 2502.15826): the base method's target z, with the outdated fact's
    direction removed from its largest coordinates.

    Holds every field of the bases; ``nullspace_threshold``, ``threshold_mode`` and ``l2`` act only with
    ``base="alphaedit"``. :meth:`for_model` layers the base's defaults (its class, architecture and the settings the
    model's testbed gives it), CoME's reference settings for that base, the testbed's ``come`` settings, then
    overrides.
    """

    method: ClassVar[str] = "come"

    base: str = option(
        "memit", "Method whose targets CoME transforms and whose update writes them: memit, alphaedit, pmet."
    )
    unlearn_weight: float = option(0.1, "a: how much of the outdated-fact vector δ′ is removed.")
    top_p: float = option(0.2, "p: only the coordinates of z₀ = h₀ + δ at or above its (1−p) quantile (signed) change.")
    scale_shared: bool = option(
        False,
        "False: z = z₀ − a·δ′ + δ″, the reference code (shared component unscaled); True: z = z₀ − a·(δ′ − δ″), "
        "the paper's formula.",
    )
    old_num_grad_steps: int | None = option(
        None, "Iterations of the δ′ optimisation (None: half of v_num_grad_steps, all of them with base pmet)."
    )
    old_early_stop: bool = option(
        True,
        "δ′ stops early as the base's target does (reference). A model already sure of the old object then gets "
        "δ′ = 0 and nothing is unlearned (with PMET's argmax rule, whenever the old object is the argmax); False "
        "runs every iteration of δ′.",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.base not in BASE_CONFIGS:
            raise ConfigError(f"base must be one of {sorted(BASE_CONFIGS)}, not {self.base!r}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.old_num_grad_steps is not None and self.old_num_grad_steps < 1:
            raise ConfigError("old_num_grad_steps must be at least 1")

    @classmethod
    def for_model(
        cls, model: Any, *, model_defaults: Mapping[str, Mapping[str, Any]] | None = None, **overrides: Any
    ) -> ComeConfig:
        """The base method's configuration for ``model`` (its architecture's, then the model's defaults for the
        base), then CoME's own defaults for the model, then ``overrides``."""
        if model_defaults is None:
            model_defaults = testbed_defaults(model)
        own = cls.defaults_from(model_defaults)
        base = overrides.get("base", own.get("base", "memit"))
        base_cls = BASE_CONFIGS.get(base)
        if base_cls is None:
            raise ConfigError(f"base must be one of {sorted(BASE_CONFIGS)}, not {base!r}")
        values = {f.name: f.default for f in dataclasses.fields(base_cls)}
        for layer in (
            base_cls.architecture_defaults(text_config(model.config)),
            BASE_OVERRIDES.get(base, {}),
            base_cls.defaults_from(model_defaults),
            own,
            overrides,
        ):
            cls.merge(values, layer)
        values["base"] = base
        return cls.from_dict(values)

    def old_target_settings(self) -> TargetSettings:
        """The δ′ optimisation: the base's, with ⌊N/2⌋ iterations for CoME-MEMIT and N for CoME-PMET (reference
        code), and without early stopping unless ``old_early_stop``."""
        settings = dataclasses.replace(self.target_settings(), steps=self.old_target_steps())
        if self.old_early_stop:
            return settings
        return dataclasses.replace(settings, early_stop_loss=0.0, argmax_kl_stop=None)  # the loss is never < 0

    def old_target_steps(self) -> int:
        """Iterations of the δ′ optimisation: ⌊N/2⌋ for CoME-MEMIT, N for CoME-PMET (reference code)."""
        if self.old_num_grad_steps is not None:
            return self.old_num_grad_steps
        return self.v_num_grad_steps if self.base == "pmet" else max(1, self.v_num_grad_steps // 2)
