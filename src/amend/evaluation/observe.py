"""Observations of a model on items (scores and generations), and the per-item metric values they give.

An item with aliases is correct when any of its answers is: the probability protocol compares the best-scored
answer with the foil, token accuracy takes the best answer, exact match accepts any. Locality agreement compares
the model with itself on the first answer only, so aliases do not enter it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from amend.evaluation.metrics import (
    exact_match,
    first_clause,
    normalize,
    prefers,
    token_accuracy,
    token_agreement,
    top_k_agreement,
)
from amend.evaluation.metrics.probability import conflict_probability
from amend.evaluation.tasks import GENERALIZATION, LOCALITY, RELIABILITY, Item
from amend.lm import LanguageModel, Scored

EXTRA_GENERATED_TOKENS = 3  # generation may run this far past the answer's length before being cut at a clause
CONFLICT = "conflict"  # how much the edited model still gives the old object (lower is better)
LOCALITY_TOP_K = "locality_topk"  # agreement of the top-10 tokens at each answer position (MMEdit's image locality)
AGREEMENTS = ("locality_agreement", LOCALITY_TOP_K)  # the model against itself: not measured before an edit


@dataclass(frozen=True)
class Observation:
    """What one model state did on one item."""

    answer: Scored
    foil: Scored | None
    generation: str | None
    aliases: tuple[Scored, ...] = ()

    @property
    def answers(self) -> tuple[Scored, ...]:
        return (self.answer, *self.aliases)

    def to_dict(self, decode) -> dict[str, Any]:
        out: dict[str, Any] = {"nll_answer": self.answer.nll, "argmax": decode(list(self.answer.argmax))}
        if self.aliases:
            out["nll_aliases"] = [alias.nll for alias in self.aliases]
        if self.foil is not None:
            out["nll_foil"] = self.foil.nll
        if self.generation is not None:
            out["generation"] = self.generation
        return out


def observe(lm: LanguageModel, items: Sequence[Item], protocols: Sequence[str]) -> list[Observation]:
    """Score every item's answer (and foil and aliases), and generate when exact match is asked for: batched over
    all items."""
    pairs = [(item.prompt, item.answer) for item in items]
    foil_index = [i for i, item in enumerate(items) if item.foil is not None]
    pairs += [(items[i].prompt, items[i].foil) for i in foil_index]  # type: ignore[misc]
    alias_index = [(i, alias) for i, item in enumerate(items) for alias in item.aliases]
    pairs += [(items[i].prompt, alias) for i, alias in alias_index]
    scored = lm.score(pairs)
    answers = scored[: len(items)]
    foils = dict(zip(foil_index, scored[len(items) : len(items) + len(foil_index)], strict=True))
    aliases: dict[int, list[Scored]] = {}
    for (i, _), seen in zip(alias_index, scored[len(items) + len(foil_index) :], strict=True):
        aliases.setdefault(i, []).append(seen)
    generations: list[str | None] = [None] * len(items)
    if "exact_match" in protocols:
        limits = [
            max(len(a.answer_ids) for a in [answers[i], *aliases.get(i, [])]) + EXTRA_GENERATED_TOKENS
            for i in range(len(items))
        ]
        generations = list(lm.generate([item.prompt for item in items], limits))
    return [Observation(answers[i], foils.get(i), generations[i], tuple(aliases.get(i, ()))) for i in range(len(items))]


def item_values(
    item: Item, after: Observation, before: Observation, protocols: Sequence[str]
) -> dict[str, dict[str, float]]:
    """{metric name: {protocol: value}} for one item; locality gives accuracy and agreement separately, and the
    edit prompt and its rephrases also give the conflict measure (when the old object is known)."""
    accuracy = _accuracy(item, after, protocols)
    if item.metric == LOCALITY:
        values = {"locality_accuracy": accuracy, "locality_agreement": _agreement(item, after, before, protocols)}
        if item.top_k and "token_accuracy" in protocols and after.answer.top and before.answer.top:
            values[LOCALITY_TOP_K] = {"token_accuracy": top_k_agreement(after.answer.top, before.answer.top)}
        return values
    values = {item.metric: accuracy}
    if item.metric in (RELIABILITY, GENERALIZATION) and _has_distinct_foil(item, after):
        values[CONFLICT] = _conflict(item, after, protocols)
    return values


def _accuracy(item: Item, seen: Observation, protocols: Sequence[str]) -> dict[str, float]:
    values = {}
    if "probability" in protocols and _has_distinct_foil(item, seen):
        values["probability"] = float(prefers(min(a.nll for a in seen.answers), seen.foil.nll))
    if "token_accuracy" in protocols:
        values["token_accuracy"] = max(token_accuracy(a.argmax, a.answer_ids) for a in seen.answers)
    if "exact_match" in protocols and seen.generation is not None:
        values["exact_match"] = float(any(exact_match(seen.generation, a) for a in (item.answer, *item.aliases)))
    return values


def _conflict(item: Item, seen: Observation, protocols: Sequence[str]) -> dict[str, float]:
    """The old object (the item's foil) scored as if it were the answer: its mean token probability, its teacher-
    forced token accuracy, and whether greedy generation gives it."""
    values = {}
    if "probability" in protocols:
        values["probability"] = conflict_probability(seen.foil.nll)
    if "token_accuracy" in protocols:
        values["token_accuracy"] = token_accuracy(seen.foil.argmax, seen.foil.answer_ids)
    if "exact_match" in protocols and seen.generation is not None:
        values["exact_match"] = float(exact_match(seen.generation, item.foil))
    return values


def _has_distinct_foil(item: Item, seen: Observation) -> bool:
    """The probability protocol needs a foil that differs from the answer (a neighbour whose true object is the
    edit's new target has none: the comparison would be of a string with itself)."""
    if seen.foil is None or item.foil is None:
        return False
    return normalize(item.foil) not in {normalize(answer) for answer in (item.answer, *item.aliases)}


def _agreement(item: Item, after: Observation, before: Observation, protocols: Sequence[str]) -> dict[str, float]:
    values = {}
    if "probability" in protocols and _has_distinct_foil(item, after) and before.foil is not None:
        same = prefers(after.answer.nll, after.foil.nll) == prefers(before.answer.nll, before.foil.nll)
        values["probability"] = float(same)
    if "token_accuracy" in protocols:
        values["token_accuracy"] = token_agreement(after.answer.argmax, before.answer.argmax)
    if "exact_match" in protocols and after.generation is not None and before.generation is not None:
        values["exact_match"] = float(
            normalize(first_clause(after.generation)) == normalize(first_clause(before.generation))
        )
    return values
