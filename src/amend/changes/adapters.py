"""Module adapters: a component attached at a named site through a hook that the patch owns.

The base weights never change: :class:`ModuleAdapter` installs its component's hook on apply and removes it on
revert. A component is a small ``nn.Module`` (a :class:`SiteAdapter`) that maps the activation at the site to its
replacement; memory-based methods (GRACE's codebook, BalancEdit) are components of this kind. A saved patch names
its component by a registered name (:data:`amend.registry.ADAPTERS`) and stores its tensors in safetensors, so
loading a patch never runs code the patch names.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from amend.architectures import Component, Site, anatomy
from amend.changes.attachments import attached
from amend.changes.base import Change, Journal, Undo
from amend.errors import PatchMismatch, UnknownName
from amend.fingerprint import sampled_digest
from amend.hooks._register import install, install_call_watch, install_wrap, remove


class SiteAdapter(nn.Module, ABC):
    """A component that replaces the activation (batch, seq, width) at a site. Subclasses set ``name`` (their key
    in :data:`amend.registry.ADAPTERS`) and implement ``forward``, :meth:`settings` and :meth:`build`.

    Attributes:
        wraps: The component wraps the linear sub-layer whose output is the site: its ``forward(inputs, output)``
            reads the sub-layer's input as well (a codebook decides from the input and replaces the output);
            otherwise ``forward(hidden)`` maps the activation to its replacement. Returning None keeps it as it is.
        reads_padding: :meth:`observe_call` is given the keyword arguments (``attention_mask``) of every forward
            of the base model before the component runs in it, for components that pool over a row's tokens.
        whole_sequence: The output at a position depends on the activations at earlier positions, which a forward
            with a key/value cache does not recompute: generation must run without the cache.
    """

    name: ClassVar[str]
    wraps: ClassVar[bool] = False
    reads_padding: ClassVar[bool] = False
    whole_sequence: bool = False

    @abstractmethod
    def forward(self, *activations: torch.Tensor) -> torch.Tensor | None: ...

    def observe_call(self, kwargs: Mapping[str, Any]) -> None:
        """See the base model's keyword arguments of the forward about to run (only if ``reads_padding``)."""

    def settings(self) -> dict[str, Any]:
        """JSON-plain constructor settings (tensors go in ``state_dict``)."""
        return {}

    def state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The component as it is now: its settings and (detached, CPU) tensors."""
        return self.settings(), {name: t.detach().contiguous().cpu() for name, t in self.state_dict().items()}

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
    """Attach ``component`` at ``site`` under ``label`` (unique among a model's adapters).

    The change is the component as it was given: later changes may write into the attached component (a
    :class:`~amend.changes.codebook.CodebookWrite` adds entries), but this change saves, and is compared by, the
    component's state at construction, and it refuses to be reverted while such a later write is still applied.
    """

    site: Site
    component: SiteAdapter
    label: str
    snapshot: tuple[dict[str, Any], dict[str, torch.Tensor]] = field(init=False, repr=False, compare=False)

    kind: ClassVar[str] = "module_adapter"

    def __post_init__(self) -> None:
        settings, tensors = self.component.state()
        object.__setattr__(self, "snapshot", (settings, {name: t.clone() for name, t in tensors.items()}))

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
        if self.component.wraps:
            handles = install_wrap(body, self.site, self.component)
        else:
            handles = install(body, self.site, self.component)
        if self.component.reads_padding:
            handles.append(install_call_watch(model.base_model, self.component.observe_call))
        record.adapters[self.label] = self
        return _Detach(self, handles)

    def to_saved(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        settings, tensors = self.snapshot
        meta = {
            "label": self.label,
            "site": {"component": self.site.component.value, "layer": self.site.layer},
            "adapter": self.component.name,
            "settings": settings,
        }
        return meta, dict(tensors)

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
        self.sealed: str | None = None

    def seal(self, model: nn.Module) -> None:
        self.sealed = component_digest(self.adapter.component)

    def changed_since(self, model: nn.Module) -> str | None:
        if attached(model).adapters.get(self.adapter.label) is not self.adapter:
            return f"the adapter {self.adapter.label!r} was removed or replaced"
        if self.sealed is not None and component_digest(self.adapter.component) != self.sealed:
            return f"the adapter {self.adapter.label!r} was written to"
        return None

    def undo(self, model: nn.Module) -> None:
        remove(self.handles)
        record = attached(model)
        if record.adapters.get(self.adapter.label) is self.adapter:
            del record.adapters[self.adapter.label]


def component_digest(component: SiteAdapter) -> str:
    """A hash of a component's settings and tensors (large tensors sampled, as a model fingerprint samples weights:
    a codebook of thousands of entries is hashed on every fingerprint)."""
    settings, tensors = component.state()
    parts = [json.dumps([component.name, settings], sort_keys=True)]
    parts += [f"{name}|{sampled_digest(tensors[name])}" for name in sorted(tensors)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
