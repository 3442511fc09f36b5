"""The ability kinds every suite is made of: questions answered by generation, fluency with its muting rate, and
facts the unedited model knew.

Each takes its items when built and measures a model through the :class:`~amend.lm.LanguageModel` interface only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from amend.abilities.base import Ability, AbilityResult
from amend.abilities.metrics import empty_rate, first_number, is_muted, mean, muting_rate
from amend.evaluation.metrics.exact_match import exact_match, normalize
from amend.evaluation.metrics.fluency import fluency
from amend.evaluation.metrics.probability import prefers
from amend.evaluation.metrics.token_accuracy import token_accuracy
from amend.evaluation.observe import EXTRA_GENERATED_TOKENS
from amend.lm import LanguageModel
from amend.requests import EditRequest

Case = tuple[str, str]
"""A prompt and its answer."""
Match = Callable[[str, str], bool]
"""Whether a generation answers correctly: (generation, answer) -> bool."""


def digest(items: Sequence[Any]) -> str:
    """A short digest of an ability's items (a resumed run must ask the same questions)."""
    return hashlib.sha256(json.dumps(list(items), default=str).encode()).hexdigest()[:16]


def number_match(generation: str, answer: str) -> bool:
    """The first integer of the generation is the answer ("= 17, because" answers 17)."""
    return first_number(generation) == int(answer)


def first_words(generation: str, answer: str) -> bool:
    """The generation starts with the answer's words (normalised): a model that continues past a one-word answer
    without ending its clause ("yes yes yes") still answered it."""
    expected = normalize(answer).split()
    return bool(expected) and normalize(generation).split()[: len(expected)] == expected


class QuestionAbility(Ability):
    """Questions answered by greedy generation; the score is the share answered (``match``, default exact match of
    the first clause, :func:`~amend.evaluation.metrics.exact_match.exact_match`).

    Each generation may run ``EXTRA_GENERATED_TOKENS`` past its answer's length (the answer's tokens come from
    scoring it, which also gives teacher-forced token accuracy, reported beside). ``empty`` is the share of
    generations with no word (the muting of Li et al. on short answers; loops are judged on free generation, by
    :class:`FluencyAbility`).
    """

    def __init__(self, name: str, cases: Sequence[Case], match: Match = exact_match, metric: str = "exact_match"):
        if not cases:
            raise ValueError(f"ability {name!r} has no items")
        self.name, self.cases, self.match, self.metric = name, list(cases), match, metric

    def evaluate(self, lm: LanguageModel) -> AbilityResult:
        scored = lm.score(self.cases)
        limits = [len(s.answer_ids) + EXTRA_GENERATED_TOKENS for s in scored]
        generations = lm.generate([prompt for prompt, _ in self.cases], limits)
        hits = [self.match(text, answer) for text, (_, answer) in zip(generations, self.cases, strict=True)]
        accuracies = [token_accuracy(s.argmax, s.answer_ids) for s in scored]
        samples = [
            {"prompt": prompt, "answer": answer, "generation": text, "value": float(hit)}
            for (prompt, answer), text, hit in zip(self.cases, generations, hits, strict=True)
        ]
        details = {"token_accuracy": mean(accuracies), "empty": empty_rate(generations)}
        return AbilityResult(self.name, self.metric, mean([float(h) for h in hits]), len(hits), details, samples)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "items": len(self.cases), "items_sha256": digest(self.cases)}


class FluencyAbility(Ability):
    """Free generation from fixed prompts: the score is ROME's n-gram entropy fluency (mean over the prompts), the
    muting rate (empty or looping generations) is beside it. Greedy unless ``top_k`` (seeded)."""

    metric = "fluency"

    def __init__(
        self, prompts: Sequence[str], max_new_tokens: int = 40, top_k: int | None = None, name: str = "fluency"
    ):
        if not prompts:
            raise ValueError("the fluency ability has no prompts")
        self.name, self.prompts, self.max_new_tokens, self.top_k = name, list(prompts), max_new_tokens, top_k

    def evaluate(self, lm: LanguageModel) -> AbilityResult:
        texts = lm.generate(self.prompts, [self.max_new_tokens] * len(self.prompts), top_k=self.top_k, seed=0)
        values = [fluency(text) for text in texts]
        samples = [
            {"prompt": p, "generation": t, "value": v, "muted": is_muted(t)}
            for p, t, v in zip(self.prompts, texts, values, strict=True)
        ]
        return AbilityResult(self.name, self.metric, mean(values), len(texts), {"muted": muting_rate(texts)}, samples)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "items": len(self.prompts),
            "items_sha256": digest(self.prompts),
            "max_new_tokens": self.max_new_tokens,
            "top_k": self.top_k,
        }


class KnownFactsAbility(Ability):
    """Facts the unedited model knew, none of them edited: the score is the share whose true object the model still
    prefers to the record's other object (the probability protocol, as :mod:`amend.evaluation.known` selects
    them); exact match of the true object by generation is beside it."""

    metric = "prefers_true"

    def __init__(self, requests: Sequence[EditRequest], name: str = "known_facts"):
        if not requests:
            raise ValueError("the known-facts ability has no facts (the unedited model knows none of the pool)")
        self.name, self.requests = name, list(requests)

    def evaluate(self, lm: LanguageModel) -> AbilityResult:
        pairs = [(r.text, answer) for r in self.requests for answer in (r.target_true, r.target_new)]
        scored = lm.score(pairs)
        kept = [prefers(scored[2 * i].nll, scored[2 * i + 1].nll) for i in range(len(self.requests))]
        limits = [len(scored[2 * i].answer_ids) + EXTRA_GENERATED_TOKENS for i in range(len(self.requests))]
        texts = lm.generate([r.text for r in self.requests], limits)
        matched = [exact_match(t, r.target_true) for t, r in zip(texts, self.requests, strict=True)]
        samples = [
            {"prompt": r.text, "answer": r.target_true, "foil": r.target_new, "generation": t, "value": float(k)}
            for r, t, k in zip(self.requests, texts, kept, strict=True)
        ]
        details = {"exact_match": mean([float(m) for m in matched]), "empty": empty_rate(texts)}
        return AbilityResult(self.name, self.metric, mean([float(k) for k in kept]), len(kept), details, samples)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "items": len(self.requests), "ids": [r.record_id for r in self.requests]}
