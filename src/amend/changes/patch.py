"""Edits as values: a :class:`Patch` holds the reversible changes of an edit and can be applied, reverted bit for
bit, saved, loaded and composed.

A patch is an ordered list of changes of three kinds (:mod:`amend.changes`): weight deltas, module adapters and
context memory. Changes are replayed in the order the method applied them, with the same float32 arithmetic, so a
loaded patch reproduces the edited model bit for bit; a revert takes them back latest first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import torch
from torch import nn

from amend.changes.adapters import ModuleAdapter
from amend.changes.base import Change, Journal
from amend.changes.codebook import CodebookWrite
from amend.changes.memory import ContextFacts
from amend.changes.weights import WeightDelta
from amend.errors import AmendError, PatchMismatch
from amend.fingerprint import fingerprint
from amend.requests import request_from_dict
from amend.storage import DIGEST_KEY, read_json, read_tensors, write_json, write_tensors

FORMAT_VERSION = 2
CHANGE_KINDS: dict[str, type[Change]] = {
    kind.kind: kind for kind in (WeightDelta, ModuleAdapter, ContextFacts, CodebookWrite)
}
TENSORS_FILE, PATCH_FILE, INTERMEDIATES_FILE = "tensors.safetensors", "patch.json", "intermediates.safetensors"


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
        log: What the method reports about the edit (iterations, losses, templates...).
        intermediates: The edit's intermediate tensors when the editor was asked to keep them (keys, target
            vectors, residuals, u and r, projectors), by name; saved beside the changes, never applied.
    """

    method: str
    config: dict[str, Any]
    requests: list[Any]
    changes: list[Change]
    base_fingerprint: str
    result_fingerprint: str | None = None
    amend_version: str = ""
    log: dict[str, Any] = field(default_factory=dict, compare=False)
    intermediates: dict[str, torch.Tensor] = field(default_factory=dict, compare=False, repr=False)
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
            if check_fingerprint and self.result_fingerprint is not None:
                found = fingerprint(model)
                if found != self.result_fingerprint:
                    raise PatchMismatch(
                        f"after applying this {self.method} patch the model's fingerprint is {found[:12]}, not the "
                        f"{self.result_fingerprint[:12]} it recorded: its changes are not the ones it was saved with"
                    )
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
        """Write ``tensors.safetensors`` and ``patch.json`` into the directory ``path`` (no pickle); the JSON
        records the digest of the tensors, so a changed or swapped tensor file is refused on load."""
        path = Path(path)
        tensors: dict[str, torch.Tensor] = {}
        described = []
        for i, change in enumerate(self.changes):
            meta, own = change.to_saved()
            described.append({"kind": change.kind, **meta})
            tensors.update({f"{i}.{name}": tensor for name, tensor in own.items()})
        digest = write_tensors(path / TENSORS_FILE, tensors)
        meta = {
            "format_version": FORMAT_VERSION,
            "method": self.method,
            "config": self.config,
            "amend_version": self.amend_version,
            "base_fingerprint": self.base_fingerprint,
            "result_fingerprint": self.result_fingerprint,
            "tensors_digest": digest,
            "log": self.log,
            "changes": described,
            "requests": [{"kind": r.kind, **r.to_dict()} for r in self.requests],
        }
        if self.intermediates:
            meta["intermediates_digest"] = write_tensors(path / INTERMEDIATES_FILE, self.intermediates)
        write_json(path / PATCH_FILE, meta)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Patch:
        """A saved patch. Its files are data: only the three change kinds and registered adapters are rebuilt, the
        tensors must match the digest the patch recorded, and every field is checked before use."""
        path = Path(path)
        if not (path / PATCH_FILE).is_file():
            raise PatchMismatch(f"{path} is not a saved patch (needs {PATCH_FILE} and {TENSORS_FILE})")
        meta = read_json(path / PATCH_FILE, PatchMismatch)
        fields = _checked_fields(path / PATCH_FILE, meta)
        if fields["version"] == 1:  # weight deltas only, written before other kinds and digests existed
            tensors, _ = read_tensors(path / "deltas.safetensors", PatchMismatch, require_digest=False)
        else:
            tensors, header = read_tensors(path / TENSORS_FILE, PatchMismatch)
            if header[DIGEST_KEY] != meta.get("tensors_digest"):
                raise PatchMismatch(f"{path}: {TENSORS_FILE} is not the tensor file {PATCH_FILE} was saved with")
        intermediates = {}
        if meta.get("intermediates_digest") is not None:
            intermediates, header = read_tensors(path / INTERMEDIATES_FILE, PatchMismatch)
            if header[DIGEST_KEY] != meta["intermediates_digest"]:
                raise PatchMismatch(f"{path}: {INTERMEDIATES_FILE} is not the file {PATCH_FILE} was saved with")
        return cls(
            method=fields["method"],
            config=fields["config"],
            requests=[request_from_dict(r) for r in fields["requests"]],
            changes=[_change(i, entry, tensors) for i, entry in enumerate(fields["changes"])],
            base_fingerprint=fields["base_fingerprint"],
            result_fingerprint=fields["result_fingerprint"],
            amend_version=str(meta.get("amend_version", "")),
            log=meta.get("log") if isinstance(meta.get("log"), dict) else {},
            intermediates=intermediates,
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


def _checked_fields(file: Path, meta: Any) -> dict[str, Any]:
    """The fields of a saved patch's JSON, each checked for its type (a file from elsewhere is data)."""
    if not isinstance(meta, dict):
        raise PatchMismatch(f"{file}: expected a JSON object, got {type(meta).__name__}")
    version = meta.get("format_version")
    if version not in (1, FORMAT_VERSION):
        raise PatchMismatch(f"{file}: patch format {version!r} is not one of 1, {FORMAT_VERSION}")
    changes = meta.get("steps" if version == 1 else "changes")
    expected = {
        "method": (meta.get("method"), str),
        "config": (meta.get("config"), dict),
        "base_fingerprint": (meta.get("base_fingerprint"), str),
        "requests": (meta.get("requests"), list),
        "changes": (changes, list),
    }
    for name, (value, kind) in expected.items():
        if not isinstance(value, kind):
            raise PatchMismatch(f"{file}: field {name!r} must be a {kind.__name__}, got {type(value).__name__}")
    result = meta.get("result_fingerprint")
    if result is not None and not isinstance(result, str):
        raise PatchMismatch(f"{file}: field 'result_fingerprint' must be a string")
    if version == 1:
        changes = [{"kind": WeightDelta.kind, **step} if isinstance(step, dict) else step for step in changes]
    values = {name: value for name, (value, _) in expected.items()}
    return {**values, "changes": changes, "version": version, "result_fingerprint": result}


def _change(index: int, entry: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Change:
    """Change ``index`` of a saved patch, from its description and its ``{index}.*`` tensors."""
    kind = entry.get("kind") if isinstance(entry, dict) else None
    if not isinstance(kind, str) or kind not in CHANGE_KINDS:
        raise PatchMismatch(f"change {index} has kind {kind!r}; a patch holds only {sorted(CHANGE_KINDS)}")
    prefix = f"{index}."
    own = {name[len(prefix) :]: tensor for name, tensor in tensors.items() if name.startswith(prefix)}
    try:
        return CHANGE_KINDS[kind].from_saved(entry, own)
    except AmendError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, RuntimeError) as err:
        raise PatchMismatch(f"change {index} ({kind}) cannot be rebuilt: {err}") from None


def revert_all(patches: Iterable[Patch]) -> None:
    """Revert applied patches, latest first."""
    for patch in reversed(list(patches)):
        if patch.is_applied:
            patch.revert()
