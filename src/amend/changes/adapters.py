"""Module adapters: a component attached at a named site through a hook that the patch owns.

The base weights never change: :class:`ModuleAdapter` installs its component's hook on apply and removes it on
revert. A component is a small ``nn.Module`` (a :class:`SiteAdapter`) that maps the activation at the site to its
replacement; memory-based methods (GRACE's codebook, BalancEdit) are components of this kind. A saved patch names
its component by a registered name (:data:`amend.registry.ADAPTERS`) and stores its tensors in safetensors, so
loading a patch never runs code the patch names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from amend.architectures import Component, Site, anatomy
from amend.changes.attachments import attached
from amend.changes.base import Change, Journal, Undo
from amend.errors import PatchMismatch, UnknownName
from amend.hooks._register import install, remove


class SiteAdapter(nn.Module, ABC):
    """A component that replaces the activation (batch, seq, width) at a site. Subclasses set ``name`` (their key
    in :data:`amend.registry.ADAPTERS`) and implement ``forward``, :meth:`settings` and :meth:`build`."""

    name: ClassVar[str]

    @abstractmethod
    def forward(self, hidden: torch.Tensor) -> torch.Tensor: ...

    def settings(self) -> dict[str, Any]:
        """JSON-plain constructor settings (tensors go in ``state_dict``)."""
        return {}

    @classmethod
    @abstractmethod
    def build(cls, settings: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> SiteAdapter:
        """The component saved as ``settings`` and ``tensors``."""


class AddVector(SiteAdapter):
    """Adds one fixed vector at every position of the site: the simplest adapter, a steering vector (and the
    test of the adapter kind end to end)."""

    name = "add_vector"

    def __init__(self, vector: torch.Tensor):
        super().__init__()
        if vector.dim() != 1:
            raise ValueError(f"AddVector takes a (width,) vector, got shape {tuple(vector.shape)}")
        self.register_buffer("vector", vector.detach().clone())

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden + self.vector.to(hidden.dtype)

    @classmethod
    def build(cls, settings: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> AddVector:
        if "vector" not in tensors:
            raise PatchMismatch("an add_vector adapter needs its 'vector' tensor")
        return cls(tensors["vector"])


@dataclass(frozen=True)
class ModuleAdapter(Change):
    """Attach ``component`` at ``site`` under ``label`` (unique among a model's adapters)."""

    site: Site
    component: SiteAdapter
    label: str

    kind: ClassVar[str] = "module_adapter"

    @property
    def target(self) -> str:
        return f"{self.site.component.value}@{self.site.layer}"

    def apply(self, model: nn.Module, journal: Journal) -> Undo:
        record = attached(model)
        if self.label in record.adapters:
            raise PatchMismatch(f"an adapter labelled {self.label!r} is already attached to this model")
        body = anatomy(model)
        parameter = next(model.parameters())
        self.component.to(parameter.device)
        handles = install(body, self.site, self.component)
        record.adapters[self.label] = self
        return _Detach(self, handles)

    def to_saved(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        meta = {
            "label": self.label,
            "site": {"component": self.site.component.value, "layer": self.site.layer},
            "adapter": self.component.name,
            "settings": self.component.settings(),
        }
        tensors = {name: t.detach().contiguous().cpu() for name, t in self.component.state_dict().items()}
        return meta, tensors

    @classmethod
    def from_saved(cls, meta: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> ModuleAdapter:
        from amend.registry import ADAPTERS

        try:
            site = Site(Component(meta["site"]["component"]), int(meta["site"]["layer"]))
            component_cls = ADAPTERS.get(str(meta["adapter"]))
            label = str(meta["label"])
        except (KeyError, TypeError, ValueError) as err:
            reason = str(err) if isinstance(err, UnknownName) else f"malformed adapter entry {dict(meta)!r}"
            raise PatchMismatch(reason) from None
        return cls(site, component_cls.build(meta.get("settings") or {}, tensors), label)


class _Detach(Undo):
    def __init__(self, adapter: ModuleAdapter, handles: list):
        self.adapter = adapter
        self.handles = handles

    def changed_since(self, model: nn.Module) -> str | None:
        if attached(model).adapters.get(self.adapter.label) is not self.adapter:
            return f"the adapter {self.adapter.label!r} was removed or replaced"
        return None

    def undo(self, model: nn.Module) -> None:
        remove(self.handles)
        record = attached(model)
        if record.adapters.get(self.adapter.label) is self.adapter:
            del record.adapters[self.adapter.label]
