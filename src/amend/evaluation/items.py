"""What is measured for each request: one item per (metric, prompt, answer, foil)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from amend.records import EditRequest

RELIABILITY, GENERALIZATION, LOCALITY, PORTABILITY = "reliability", "generalization", "locality", "portability"


@dataclass(frozen=True)
class Item:
    """One prompt to score for one request.

    Attributes:
        request: Index of the request in the evaluated list.
        metric: reliability, generalization, locality or portability.
        kind: The probe's label (reported separately when not empty).
        prompt: Full prompt text.
        answer: What the edited model should say (the new target; for locality, the unchanged answer).
        foil: The competitor in the probability protocol (the old target; for locality, the new target).
        aliases: Other answers that count as correct (a probe's aliases); each protocol takes the best of them.
    """

    request: int
    metric: str
    kind: str
    prompt: str
    answer: str
    foil: str | None
    aliases: tuple[str, ...] = ()


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
