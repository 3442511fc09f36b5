"""The knowledge-editing task on text requests: one item per (metric, prompt, answer, foil)."""

from __future__ import annotations

from collections.abc import Sequence

from amend.evaluation.tasks.base import Item, Task
from amend.requests import EDIT, EditRequest

RELIABILITY, GENERALIZATION, LOCALITY, PORTABILITY = "reliability", "generalization", "locality", "portability"


class EditTask(Task):
    """Knowledge editing of text facts: reliability (the edit prompt), generalization (its rephrases), locality
    (probes whose answers must not change) and portability (what should follow from the new fact)."""

    name = "edit"
    reads = EDIT

    def items(self, requests: Sequence[EditRequest]) -> list[Item]:
        self.check(requests)
        return items_of(requests)


def items_of(requests: Sequence[EditRequest]) -> list[Item]:
    """Every item of every request, request-major."""
    items = []
    for i, request in enumerate(requests):
        items.append(Item(i, RELIABILITY, "", request.text, request.target_new, request.target_true))
        for rephrase in request.rephrase:
            items.append(
                Item(i, GENERALIZATION, rephrase.kind, rephrase.prompt, request.target_new, request.target_true)
            )
        for probe in request.locality:
            foil = probe.foil or request.target_new
            items.append(Item(i, LOCALITY, probe.kind, probe.prompt, probe.answer, foil, probe.aliases))
        for probe in request.portability:
            items.append(Item(i, PORTABILITY, probe.kind, probe.prompt, probe.answer, probe.foil, probe.aliases))
    return items
