"""A model bound to its architecture spec: named components at layers, resolved to real modules."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from torch import nn

from amend.architectures.spec import ArchSpec
from amend.architectures.table import spec_for
from amend.errors import UnsupportedArchitecture


class Component(str, Enum):
    """Activations methods read or change, named independently of any architecture."""

    BLOCK_OUTPUT = "block_output"  # the residual stream after a decoder layer
    MLP_INPUT = "mlp_input"  # input of the MLP block: what its key is computed from (normed, on pre-norm models)
    MLP_KEY = "mlp_key"  # input of the MLP output projection (the key k of y = W k + b)
    MLP_OUTPUT = "mlp_output"  # output of the MLP output projection
    ATTN_OUTPUT = "attn_output"  # output of the attention output projection


@dataclass(frozen=True)
class Site:
    """Where an activation lives: a component at a layer."""

    component: Component
    layer: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "component", Component(self.component))


@dataclass(frozen=True)
class Anatomy:
    """Resolves components of one model to its modules; the only place module paths are followed."""

    model: nn.Module
    spec: ArchSpec
    model_type: str

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def layers(self) -> nn.ModuleList:
        return self.model.get_submodule(self.spec.layers)

    @property
    def text_config(self) -> Any:
        """The text model's config: the model's own, or a vision-language model's ``text_config``."""
        return text_config(self.model.config)

    @property
    def hidden_size(self) -> int:
        config = self.text_config
        return getattr(config, "hidden_size", None) or config.n_embd

    @property
    def context_length(self) -> int:
        return int(getattr(self.text_config, self.spec.position_limit, 0) or 2048)

    def layer_path(self, layer: int) -> str:
        self._check_layer(layer)
        return f"{self.spec.layers}.{layer}"

    def mlp_out_proj_name(self, layer: int) -> str:
        """Full module name of the MLP output projection at ``layer`` (the weight ROME/MEMIT rewrite)."""
        return f"{self.layer_path(layer)}.{self.spec.mlp_out_proj}"

    def attn_out_proj_name(self, layer: int) -> str:
        return f"{self.layer_path(layer)}.{self.spec.attn_out_proj}"

    def module(self, name: str) -> nn.Module:
        return self.model.get_submodule(name)

    def site_module(self, site: Site) -> tuple[nn.Module, str]:
        """The module whose hook observes ``site`` and whether the activation is its ``input`` or ``output``."""
        component = site.component
        if component is Component.BLOCK_OUTPUT:
            return self.module(self.layer_path(site.layer)), "output"
        if component is Component.MLP_INPUT:
            # The block, not its input projection: a gated MLP reads its input twice (gate and up).
            inner = self.spec.mlp or self.spec.mlp_in_proj
            return self.module(f"{self.layer_path(site.layer)}.{inner}"), "input"
        if component is Component.MLP_KEY:
            return self.module(self.mlp_out_proj_name(site.layer)), "input"
        if component is Component.MLP_OUTPUT:
            return self.module(self.mlp_out_proj_name(site.layer)), "output"
        if component is Component.ATTN_OUTPUT:
            return self.module(self.attn_out_proj_name(site.layer)), "output"
        raise ValueError(f"unknown component {component!r}")

    def _check_layer(self, layer: int) -> None:
        if not 0 <= layer < self.num_layers:
            raise IndexError(f"layer {layer} out of range: the model has {self.num_layers} layers")


def text_config(config: Any) -> Any:
    """The config of a model's text model: ``config`` itself, or a vision-language model's ``text_config``."""
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def anatomy(model: nn.Module) -> Anatomy:
    """Bind ``model`` to the architecture table row of its ``config.model_type``."""
    model_type = model.config.model_type
    spec = spec_for(model_type)
    if spec.text_models:
        inner = text_config(model.config).model_type
        if inner not in spec.text_models:
            raise UnsupportedArchitecture(
                f"a {model_type} model with a {inner!r} text model is not in amend's architecture table (its "
                f"{model_type} row knows {', '.join(spec.text_models)}); add a row to amend/architectures/table.py"
            )
    return Anatomy(model=model, spec=spec, model_type=model_type)
