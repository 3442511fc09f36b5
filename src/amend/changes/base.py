"""What every reversible change is, and the journal that applies changes in order and can undo them exactly.

A change is a value (what to do to a model); applying it returns an :class:`Undo` (how to take it back). The
:class:`Journal` keeps the undos of one edit or one patch, in order, so that a failure half-way rolls every change
back, and a revert takes them back latest first. Three kinds exist (:mod:`amend.changes`): weight deltas, module
adapters and context memory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from amend.errors import PatchMismatch


class Undo(ABC):
    """How to take one applied change back."""

    def seal(self, model: nn.Module) -> None:
        """Remember what the change left, so a later, foreign change to the same place can be detected."""
        return None

    def changed_since(self, model: nn.Module) -> str | None:
        """Why the change can no longer be taken back exactly (something else changed its place), or None."""
        return None

    @abstractmethod
    def undo(self, model: nn.Module) -> None:
        """Restore what was there before the change."""


class Change(ABC):
    """One reversible change to a model. Subclasses set ``kind`` and implement the four methods."""

    kind: ClassVar[str]

    @property
    @abstractmethod
    def target(self) -> str:
        """What the change touches (a module's weight, a site, a memory), for audits and the contract tests."""

    @abstractmethod
    def apply(self, model: nn.Module, journal: Journal) -> Undo:
        """Change ``model`` in place; on an error nothing may have changed."""

    @abstractmethod
    def to_saved(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The JSON description and the tensors that :meth:`from_saved` rebuilds the change from."""

    @classmethod
    @abstractmethod
    def from_saved(cls, meta: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> Change:
        """The change described by ``meta`` and ``tensors`` (a file from elsewhere: validate, never execute)."""


class Journal:
    """The changes applied to one model, in order, with their undos.

    ``add`` applies a change at once (a method's later computations see the model as edited so far);
    ``rollback`` takes every change back, latest first; ``seal`` records what the changes left, and
    ``check_unchanged`` then refuses to revert over someone else's later change.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.changes: list[Change] = []
        self.undos: list[Undo] = []
        self.touched_weights: set[str] = set()  # modules whose original weight an earlier delta already kept

    def add(self, change: Change) -> None:
        undo = change.apply(self.model, self)
        self.changes.append(change)
        self.undos.append(undo)

    def rollback(self) -> None:
        """Take every change back, latest first (bit-exact for weights: the first-touch originals are copied
        back)."""
        with torch.no_grad():
            for undo in reversed(self.undos):
                undo.undo(self.model)
        self.changes.clear()
        self.undos.clear()
        self.touched_weights.clear()

    def seal(self) -> None:
        for undo in self.undos:
            undo.seal(self.model)

    def check_unchanged(self) -> None:
        for undo in self.undos:
            reason = undo.changed_since(self.model)
            if reason is not None:
                raise PatchMismatch(
                    f"{reason} since this patch was applied (a later edit?); revert later patches first"
                )
