"""What patches have attached to a model besides its weights: module adapters and context memories.

They live in one explicit object per model (``attached(model)``), owned by the patches that put them there: a
patch adds its adapters and facts on apply and takes them out on revert. They are not submodules (they never
enter ``state_dict`` or ``save_pretrained``), and the model fingerprint covers them, so a patch computed on an
adapted model is refused on the bare one and patches with adapters chain and compose like weight deltas.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from torch import nn

from amend.fingerprint import ATTACHED

if TYPE_CHECKING:
    from amend.changes.adapters import ModuleAdapter


@dataclass(eq=False)
class MemoryEntry:
    """One fact held in a context memory (compared by identity: the same text added twice is two entries)."""

    text: str


@dataclass
class Attachments:
    """Adapters by label, in the order they were installed, and context memories by name."""

    adapters: dict[str, ModuleAdapter] = field(default_factory=dict)
    memories: dict[str, list[MemoryEntry]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.adapters) or any(self.memories.values())

    def whole_sequence(self) -> bool:
        """Whether an attached component needs every position recomputed on every forward (no key/value cache)."""
        return any(adapter.component.whole_sequence for adapter in self.adapters.values())

    def facts(self, memory: str = "default") -> list[str]:
        """The texts of a context memory, oldest first."""
        return [entry.text for entry in self.memories.get(memory, [])]

    def entries(self, memory: str) -> list[MemoryEntry]:
        return self.memories.setdefault(memory, [])

    def digest(self) -> str:
        """A hash of everything attached: each adapter's label, site, kind, settings and tensors as they are now
        (large tensors sampled), each memory's facts."""
        from amend.changes.adapters import component_digest

        digest = hashlib.sha256()
        for label, adapter in self.adapters.items():
            digest.update(json.dumps([label, adapter.target], sort_keys=True).encode())
            digest.update(component_digest(adapter.component).encode())
        for name in sorted(name for name, entries in self.memories.items() if entries):
            digest.update(json.dumps([name, [entry.text for entry in self.memories[name]]]).encode())
        return digest.hexdigest()

    def __iter__(self) -> Iterator[ModuleAdapter]:
        return iter(self.adapters.values())


def attached(model: nn.Module) -> Attachments:
    """The attachments of ``model`` (an empty record is created on first use)."""
    record = model.__dict__.get(ATTACHED)
    if record is None:
        record = Attachments()
        model.__dict__[ATTACHED] = record
    return record


def needs_whole_sequence(model: nn.Module) -> bool:
    """Whether something attached to ``model`` needs every position recomputed on every forward (read without
    creating a record on a model that has none)."""
    record = model.__dict__.get(ATTACHED)
    return record is not None and record.whole_sequence()
