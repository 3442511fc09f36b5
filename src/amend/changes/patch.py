"""Edits as values: a :class:`Patch` holds the reversible changes of an edit and can be applied, reverted bit for
bit, saved, loaded and composed.

A patch is an ordered list of changes of three kinds (:mod:`amend.changes`): weight deltas, module adapters and
context memory. Changes are replayed in the order the method applied them, with the same float32 arithmetic, so a
loaded patch reproduces the edited model bit for bit; a revert takes them back latest first.
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

from amend.changes.adapters import ModuleAdapter
from amend.changes.base import Change, Journal
from amend.changes.memory import ContextFacts
from amend.changes.weights import WeightDelta
from amend.errors import PatchMismatch
from amend.fingerprint import fingerprint
from amend.requests import request_from_dict

FORMAT_VERSION = 2
CHANGE_KINDS: dict[str, type[Change]] = {kind.kind: kind for kind in (WeightDelta, ModuleAdapter, ContextFacts)}
TENSORS_FILE = "tensors.safetensors"


@dataclass
class Patch:
    """The changes of an edit, with everything needed to reproduce and audit it.

    Attributes:
        method: The method name (``"rome"``...).
        config: The method's full configuration as a plain dict.
        requests: The requests the edit wrote.
        changes: The reversible changes in application order.
        base_fingerprint: Fingerprint of the model the patch was computed on; applying requires it.
        result_fingerprint: Fingerprint of the model after the patch (lets patches be chained and composed).
        amend_version: The amend version that computed the patch.
    """

    method: str
    config: dict[str, Any]
    requests: list[Any]
    changes: list[Change]
    base_fingerprint: str
    result_fingerprint: str | None = None
    amend_version: str = ""
    log: dict[str, Any] = field(default_factory=dict, compare=False)
    _journal: Journal | None = field(default=None, repr=False, compare=False)

    @property
    def modules(self) -> list[str]:
        """The modules whose weights this patch changes, in first-touched order."""
        return list(dict.fromkeys(c.module for c in self.changes if isinstance(c, WeightDelta)))

    @property
    def targets(self) -> list[str]:
        """Everything this patch changes (weights, sites, memories), in first-touched order."""
        return list(dict.fromkeys(change.target for change in self.changes))

    @property
    def is_applied(self) -> bool:
        return self._journal is not None

    def apply(self, model: nn.Module, *, check_fingerprint: bool = True) -> Patch:
        """Apply the patch to ``model`` in place; refused if the model is not the one it was computed on."""
        if self._journal is not None:
            raise PatchMismatch("this patch is already applied; revert it first")
        if check_fingerprint:
            found = fingerprint(model)
            if found != self.base_fingerprint:
                raise PatchMismatch(
                    f"this {self.method} patch was computed on a model with fingerprint {self.base_fingerprint[:12]}, "
                    f"but this model's is {found[:12]} (another checkpoint, dtype, or edits already applied). "
                    "Apply it to the model it was made for, or pass check_fingerprint=False to force it."
                )
        journal = Journal(model)
        try:
            for change in self.changes:
                journal.add(change)
        except BaseException:
            journal.rollback()
            raise
        self._attach(journal)
        return self

    def revert(self) -> None:
        """Take back every change of this patch, latest first: weights bit for bit, adapters removed, facts
        forgotten."""
        if self._journal is None:
            raise PatchMismatch("this patch is not applied to any model")
        self._journal.check_unchanged()
        self._journal.rollback()
        self._journal = None

    def _attach(self, journal: Journal) -> None:
        """Own an applied journal: seal what it wrote, so a revert over a later change is refused."""
        journal.seal()
        self._journal = journal

    # ---- persistence -------------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write ``tensors.safetensors`` and ``patch.json`` into the directory ``path`` (no pickle)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        tensors: dict[str, torch.Tensor] = {}
        described = []
        for i, change in enumerate(self.changes):
            meta, own = change.to_saved()
            described.append({"kind": change.kind, **meta})
            tensors.update({f"{i}.{name}": tensor for name, tensor in own.items()})
        save_file(tensors, str(path / TENSORS_FILE))
        meta = {
            "format_version": FORMAT_VERSION,
            "method": self.method,
            "config": self.config,
            "amend_version": self.amend_version,
            "base_fingerprint": self.base_fingerprint,
            "result_fingerprint": self.result_fingerprint,
            "log": self.log,
            "changes": described,
            "requests": [{"kind": r.kind, **r.to_dict()} for r in self.requests],
        }
        (path / "patch.json").write_text(json.dumps(meta, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Patch:
        """A saved patch; its files are data: only the three change kinds and registered adapters are rebuilt."""
        path = Path(path)
        meta_file = path / "patch.json"
        if not meta_file.exists():
            raise PatchMismatch(f"{path} is not a saved patch (needs patch.json and {TENSORS_FILE})")
        meta = json.loads(meta_file.read_text())
        version = meta.get("format_version")
        if version == 1:  # weight deltas only, as written before the other kinds existed
            described = [{"kind": WeightDelta.kind, **step} for step in meta["steps"]]
            tensor_file = path / "deltas.safetensors"
        elif version == FORMAT_VERSION:
            described, tensor_file = meta["changes"], path / TENSORS_FILE
        else:
            raise PatchMismatch(f"{path}: patch format {version} is not one of 1, {FORMAT_VERSION}")
        if not tensor_file.exists():
            raise PatchMismatch(f"{path} is not a saved patch (needs patch.json and {tensor_file.name})")
        tensors = load_file(str(tensor_file))
        return cls(
            method=meta["method"],
            config=meta["config"],
            requests=[request_from_dict(r) for r in meta["requests"]],
            changes=[_change(i, entry, tensors) for i, entry in enumerate(described)],
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
            changes=[c for p in patches for c in p.changes],
            base_fingerprint=patches[0].base_fingerprint,
            result_fingerprint=patches[-1].result_fingerprint,
            amend_version=patches[-1].amend_version,
        )


def _change(index: int, entry: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Change:
    """Change ``index`` of a saved patch, from its description and its ``{index}.*`` tensors."""
    kind = entry.get("kind") if isinstance(entry, dict) else None
    if kind not in CHANGE_KINDS:
        raise PatchMismatch(f"change {index} has kind {kind!r}; a patch holds only {sorted(CHANGE_KINDS)}")
    prefix = f"{index}."
    own = {name[len(prefix) :]: tensor for name, tensor in tensors.items() if name.startswith(prefix)}
    return CHANGE_KINDS[kind].from_saved(entry, own)


def revert_all(patches: Iterable[Patch]) -> None:
    """Revert applied patches, latest first."""
    for patch in reversed(list(patches)):
        if patch.is_applied:
            patch.revert()
