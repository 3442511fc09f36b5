"""Context memory: facts a contextual method stores for the model and retrieves when it is asked.

Nothing in the network changes. :class:`ContextFacts` adds facts to a named memory of the model
(:func:`amend.changes.attachments.attached`); a contextual language model (:class:`amend.lm.ContextualLM`) reads
the memory when it scores or generates. Revert removes exactly the entries the change added, even when another
patch added the same text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from amend.changes.attachments import MemoryEntry, attached
from amend.changes.base import Change, Journal, Undo
from amend.errors import PatchMismatch


@dataclass(frozen=True)
class ContextFacts(Change):
    """Add ``facts`` (texts) to the context memory ``memory`` of a model."""

    facts: tuple[str, ...]
    memory: str = "default"

    kind: ClassVar[str] = "context_memory"

    def __post_init__(self) -> None:
        facts = tuple(self.facts)
        if not all(isinstance(fact, str) and fact.strip() for fact in facts):
            raise PatchMismatch(f"context facts must be non-empty texts, got {facts!r}")
        object.__setattr__(self, "facts", facts)

    @property
    def target(self) -> str:
        return f"memory:{self.memory}"

    def apply(self, model: nn.Module, journal: Journal) -> Undo:
        entries = [MemoryEntry(fact) for fact in self.facts]
        attached(model).entries(self.memory).extend(entries)
        return _Forget(self.memory, entries)

    def to_saved(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        return {"memory": self.memory, "facts": list(self.facts)}, {}

    @classmethod
    def from_saved(cls, meta: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> ContextFacts:
        facts, memory = meta.get("facts"), meta.get("memory", "default")
        if not isinstance(facts, list) or not isinstance(memory, str):
            raise PatchMismatch(f"a context-memory change needs a list of facts and a memory name, got {dict(meta)!r}")
        return cls(tuple(facts), memory)


class _Forget(Undo):
    def __init__(self, memory: str, entries: list[MemoryEntry]):
        self.memory = memory
        self.entries = entries

    def changed_since(self, model: nn.Module) -> str | None:
        present = {id(entry) for entry in attached(model).entries(self.memory)}
        if not all(id(entry) in present for entry in self.entries):
            return f"facts of the context memory {self.memory!r} were removed"
        return None

    def undo(self, model: nn.Module) -> None:
        record = attached(model)
        mine = {id(entry) for entry in self.entries}
        kept = [entry for entry in record.entries(self.memory) if id(entry) not in mine]
        if kept:
            record.memories[self.memory] = kept
        else:
            record.memories.pop(self.memory, None)
