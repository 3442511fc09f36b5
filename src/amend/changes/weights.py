"""Weight deltas: an additive change ``left @ right`` (or a dense matrix) to one module's weight.

Deltas are stored in (out, in) orientation and float32, and added with the same float32 arithmetic wherever they
are replayed, so a loaded patch reproduces the edited weights bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from amend.architectures import weights
from amend.changes.base import Change, Journal, Undo
from amend.errors import EditFailed, PatchMismatch
from amend.fingerprint import tensor_digest


@dataclass(frozen=True)
class WeightDelta(Change):
    """One additive change to the weight W (out, in) of ``module``: ``left @ right``, or ``left`` if dense."""

    module: str
    left: torch.Tensor  # (out, rank), or the dense (out, in) delta
    right: torch.Tensor | None = None  # (rank, in)

    kind: ClassVar[str] = "weight_delta"

    @property
    def target(self) -> str:
        return f"{self.module}.weight"

    def matrix(self) -> torch.Tensor:
        """The (out, in) float32 delta."""
        left = self.left.float()
        return left if self.right is None else left @ self.right.float()

    @property
    def rank(self) -> int | None:
        return None if self.right is None else int(self.left.shape[1])

    def apply(self, model: nn.Module, journal: Journal) -> Undo:
        module = module_or_mismatch(model, self.module)
        first = self.module not in journal.touched_weights
        original = module.weight.detach().clone() if first else None
        add_delta(module, self)
        journal.touched_weights.add(self.module)
        return _RestoreWeight(self.module, original)

    def to_saved(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        tensors = {"left": self.left.detach().contiguous().cpu()}
        if self.right is not None:
            tensors["right"] = self.right.detach().contiguous().cpu()
        return {"module": self.module, "low_rank": self.right is not None}, tensors

    @classmethod
    def from_saved(cls, meta: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> WeightDelta:
        module, low_rank = meta.get("module"), meta.get("low_rank")
        if not isinstance(module, str) or not isinstance(low_rank, bool):
            raise PatchMismatch(f"a weight delta needs a module name and low_rank, got {dict(meta)!r}")
        if "left" not in tensors or (low_rank and "right" not in tensors):
            raise PatchMismatch(f"the weight delta of {module} is missing its tensors")
        return cls(module, tensors["left"], tensors["right"] if low_rank else None)


class _RestoreWeight(Undo):
    """Copies back the weight as it was before the first delta of a journal touched it (later deltas to the same
    module keep nothing: undone latest first, the first one restores)."""

    def __init__(self, module: str, original: torch.Tensor | None):
        self.module = module
        self.original = original
        self.written: str | None = None

    def seal(self, model: nn.Module) -> None:
        if self.original is not None:
            self.written = tensor_digest(model.get_submodule(self.module).weight)

    def changed_since(self, model: nn.Module) -> str | None:
        if self.written is not None and tensor_digest(model.get_submodule(self.module).weight) != self.written:
            return f"{self.module} has changed"
        return None

    def undo(self, model: nn.Module) -> None:
        if self.original is not None:
            model.get_submodule(self.module).weight.copy_(self.original)


def add_delta(module: nn.Module, delta: WeightDelta) -> None:
    """W ← W + Δ in place, with Δ in float32, cast once to the weight's dtype; refuses non-finite results."""
    with torch.no_grad():
        w = weights.weight_out_in(module)
        change = delta.matrix().to(w.device)
        if change.shape != w.shape:
            raise PatchMismatch(
                f"delta for {delta.module} has shape {tuple(change.shape)} but the weight is {tuple(w.shape)} (out, in)"
            )
        updated = (w.float() + change).to(w.dtype)
        if not torch.isfinite(updated).all():
            raise EditFailed(f"the update of {delta.module} is not finite (NaN or inf)")
        w.copy_(updated)


def module_or_mismatch(model: nn.Module, name: str) -> nn.Module:
    try:
        return model.get_submodule(name)
    except AttributeError:
        raise PatchMismatch(f"the model has no module {name!r} that this patch changes") from None
