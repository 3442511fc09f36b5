"""Edits as values: a :class:`Patch` holds the weight changes of an edit and can be applied, reverted bit for bit,
saved, loaded and composed.

A patch is an ordered list of :class:`WeightDelta` steps, each adding ``left @ right`` (low-rank factors) or a dense
matrix to one module's weight in (out, in) orientation. Steps are replayed in the order the method applied them,
with the same float32 arithmetic, so a loaded patch reproduces the edited weights bit for bit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from amend.architectures import weights
from amend.errors import EditFailed, PatchMismatch
from amend.fingerprint import fingerprint, tensor_digest
from amend.records import EditRequest

FORMAT_VERSION = 1


@dataclass(frozen=True)
class WeightDelta:
    """One additive change to the weight W (out, in) of ``module``: ``left @ right``, or ``left`` if dense."""

    module: str
    left: torch.Tensor  # (out, rank), or the dense (out, in) delta
    right: torch.Tensor | None = None  # (rank, in)

    def matrix(self) -> torch.Tensor:
        """The (out, in) float32 delta."""
        left = self.left.float()
        return left if self.right is None else left @ self.right.float()

    @property
    def rank(self) -> int | None:
        return None if self.right is None else int(self.left.shape[1])


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


class WeightLedger:
    """Keeps the original of every weight written during an edit, so a failed edit can be rolled back exactly."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.originals: dict[str, torch.Tensor] = {}
        self.steps: list[WeightDelta] = []

    def add(self, delta: WeightDelta) -> None:
        module = self.model.get_submodule(delta.module)
        if delta.module not in self.originals:
            self.originals[delta.module] = module.weight.detach().clone()
        add_delta(module, delta)
        self.steps.append(delta)

    def rollback(self) -> None:
        with torch.no_grad():
            for name, original in self.originals.items():
                self.model.get_submodule(name).weight.copy_(original)
        self.originals.clear()
        self.steps.clear()


@dataclass
class Patch:
    """The weight changes of an edit, with everything needed to reproduce and audit it.

    Attributes:
        method: The method name (``"rome"``...).
        config: The method's full configuration as a plain dict.
        requests: The requests the edit wrote.
        steps: The weight deltas in application order.
        base_fingerprint: Fingerprint of the model the patch was computed on; applying requires it.
        result_fingerprint: Fingerprint of the model after the patch (lets patches be chained and composed).
        amend_version: The amend version that computed the patch.
    """

    method: str
    config: dict[str, Any]
    requests: list[EditRequest]
    steps: list[WeightDelta]
    base_fingerprint: str
    result_fingerprint: str | None = None
    amend_version: str = ""
    log: dict[str, Any] = field(default_factory=dict, compare=False)
    _model: nn.Module | None = field(default=None, repr=False, compare=False)
    _originals: dict[str, torch.Tensor] = field(default_factory=dict, repr=False, compare=False)
    _written: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def modules(self) -> list[str]:
        """The modules this patch changes, in first-touched order."""
        return list(dict.fromkeys(step.module for step in self.steps))

    @property
    def is_applied(self) -> bool:
        return self._model is not None

    def apply(self, model: nn.Module, *, check_fingerprint: bool = True) -> Patch:
        """Apply the patch to ``model`` in place; refused if the model is not the one it was computed on."""
        if self._model is not None:
            raise PatchMismatch("this patch is already applied; revert it first")
        if check_fingerprint:
            found = fingerprint(model)
            if found != self.base_fingerprint:
                raise PatchMismatch(
                    f"this {self.method} patch was computed on a model with fingerprint {self.base_fingerprint[:12]}, "
                    f"but this model's is {found[:12]} (another checkpoint, dtype, or edits already applied). "
                    "Apply it to the model it was made for, or pass check_fingerprint=False to force it."
                )
        ledger = WeightLedger(model)
        try:
            for step in self.steps:
                _module_or_mismatch(model, step.module)
                ledger.add(step)
        except BaseException:
            ledger.rollback()
            raise
        self._attach(model, ledger.originals)
        return self

    def revert(self) -> None:
        """Restore every weight this patch changed to its exact value before :meth:`apply` (or the edit)."""
        if self._model is None:
            raise PatchMismatch("this patch is not applied to any model")
        for name in self._originals:
            current = tensor_digest(self._model.get_submodule(name).weight)
            if current != self._written[name]:
                raise PatchMismatch(
                    f"{name} has changed since this patch was applied (a later edit?); revert later patches first"
                )
        with torch.no_grad():
            for name, original in self._originals.items():
                self._model.get_submodule(name).weight.copy_(original)
        self._model, self._originals, self._written = None, {}, {}

    def _attach(self, model: nn.Module, originals: dict[str, torch.Tensor]) -> None:
        self._model = model
        self._originals = dict(originals)
        self._written = {name: tensor_digest(model.get_submodule(name).weight) for name in originals}

    # ---- persistence -------------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write ``deltas.safetensors`` and ``patch.json`` into the directory ``path`` (no pickle)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        tensors: dict[str, torch.Tensor] = {}
        for i, step in enumerate(self.steps):
            tensors[f"{i}.left"] = step.left.detach().contiguous().cpu()
            if step.right is not None:
                tensors[f"{i}.right"] = step.right.detach().contiguous().cpu()
        save_file(tensors, str(path / "deltas.safetensors"))
        meta = {
            "format_version": FORMAT_VERSION,
            "method": self.method,
            "config": self.config,
            "amend_version": self.amend_version,
            "base_fingerprint": self.base_fingerprint,
            "result_fingerprint": self.result_fingerprint,
            "log": self.log,
            "steps": [{"module": s.module, "low_rank": s.right is not None} for s in self.steps],
            "requests": [r.to_dict() for r in self.requests],
        }
        (path / "patch.json").write_text(json.dumps(meta, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Patch:
        path = Path(path)
        meta_file, tensor_file = path / "patch.json", path / "deltas.safetensors"
        if not meta_file.exists() or not tensor_file.exists():
            raise PatchMismatch(f"{path} is not a saved patch (needs patch.json and deltas.safetensors)")
        meta = json.loads(meta_file.read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise PatchMismatch(f"{path}: patch format {meta.get('format_version')} is not {FORMAT_VERSION}")
        tensors = load_file(str(tensor_file))
        steps = [
            WeightDelta(s["module"], tensors[f"{i}.left"], tensors.get(f"{i}.right") if s["low_rank"] else None)
            for i, s in enumerate(meta["steps"])
        ]
        return cls(
            method=meta["method"],
            config=meta["config"],
            requests=[EditRequest.from_dict(r) for r in meta["requests"]],
            steps=steps,
            base_fingerprint=meta["base_fingerprint"],
            result_fingerprint=meta.get("result_fingerprint"),
            amend_version=meta.get("amend_version", ""),
            log=meta.get("log", {}),
        )

    # ---- composition -------------------------------------------------------------------------------------------

    @classmethod
    def compose(cls, patches: Sequence[Patch]) -> Patch:
        """One patch equal to applying ``patches`` in order (each must start where the previous one ended)."""
        if not patches:
            raise ValueError("compose needs at least one patch")
        for before, after in pairwise(patches):
            if before.result_fingerprint is None or before.result_fingerprint != after.base_fingerprint:
                raise PatchMismatch(
                    f"cannot compose: a {after.method} patch was computed on {after.base_fingerprint[:12]}, not on "
                    f"the result of the patch before it ({str(before.result_fingerprint)[:12]})"
                )
        methods = list(dict.fromkeys(p.method for p in patches))
        return cls(
            method=methods[0] if len(methods) == 1 else "+".join(methods),
            config={"composed": [{"method": p.method, "config": p.config} for p in patches]},
            requests=[r for p in patches for r in p.requests],
            steps=[s for p in patches for s in p.steps],
            base_fingerprint=patches[0].base_fingerprint,
            result_fingerprint=patches[-1].result_fingerprint,
            amend_version=patches[-1].amend_version,
        )


def _module_or_mismatch(model: nn.Module, name: str) -> nn.Module:
    try:
        return model.get_submodule(name)
    except AttributeError:
        raise PatchMismatch(f"the model has no module {name!r} that this patch changes") from None


def revert_all(patches: Iterable[Patch]) -> None:
    """Revert applied patches, latest first."""
    for patch in reversed(list(patches)):
        if patch.is_applied:
            patch.revert()
