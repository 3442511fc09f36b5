"""IKE's demonstrations: which pool facts, which type each gets, in which order.

Three types share the prefix "New Fact: <pool fact>" and differ in the prompt that follows: *copy* states the fact
again, *update* asks one of its paraphrases with the new object, *retain* asks one of its neighbourhood prompts with
its own (unchanged) answer. Types come in the ratio 1 : 3 : 4, assigned by a seeded shuffle; the list is reversed so
the pool fact nearest to the new one sits last, nearest the query. A pool fact about the queried fact's subject is
never used (the pool must not hold the test fact).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from amend.knowledge import Embedder, Fact, SQLiteStore
from amend.methods.contextual.index import fact_sentence
from amend.requests import EditRequest, MultimodalRequest

COPY, UPDATE, RETAIN = "copy", "update", "retain"


def type_list(k: int, rng: random.Random) -> list[str]:
    """k types in the ratio copy : update : retain = 1 : 3 : 4 (rounded down, retain takes the rest), shuffled."""
    copies, updates = k // 8, 3 * k // 8
    types = [COPY] * copies + [UPDATE] * updates + [RETAIN] * (k - copies - updates)
    rng.shuffle(types)
    return types


@dataclass(frozen=True)
class PoolFact:
    """A pool request as IKE uses it: its fact, the subject (to keep it away from its own test), and its prompts."""

    fact: str
    subject: str
    paraphrase: str | None
    neighbour: tuple[str, str] | None  # prompt and its answer

    @classmethod
    def of(cls, request: EditRequest | MultimodalRequest, fact_template: str) -> PoolFact:
        """The pool fact of a text request, or of a question about an image (its demonstrations are text: the
        image is not shown, and the image's path stands for the subject)."""
        fact = fact_sentence(request, fact_template)
        subject = request.subject if isinstance(request, EditRequest) else str(request.image)
        paraphrase = f"{request.rephrase[0].prompt} {request.target_new}" if request.rephrase else None
        answered = [probe for probe in request.locality if probe.answer]
        neighbour = (answered[0].prompt, answered[0].answer) if answered else None
        return cls(fact, subject, paraphrase, neighbour)

    def demonstration(self, kind: str, template: str) -> str:
        """This fact as a demonstration of ``kind`` (a copy when it lacks the paraphrase or neighbour asked for)."""
        prompt = self.fact
        if kind == UPDATE and self.paraphrase:
            prompt = self.paraphrase
        elif kind == RETAIN and self.neighbour:
            prompt = f"{self.neighbour[0]} {self.neighbour[1]}"
        return template.format(fact=self.fact, prompt=prompt)


class DemonstrationPool:
    """Pool facts indexed by meaning; :meth:`for_fact` builds the demonstrations of one new fact."""

    def __init__(self, facts: list[PoolFact], embedder: Embedder):
        self.facts = facts
        self.store = SQLiteStore(":memory:", embedder)
        self.store.add([Fact(str(i), pool_fact.fact) for i, pool_fact in enumerate(facts)])

    def nearest(self, fact: str, k: int) -> list[PoolFact]:
        """The k pool facts nearest to ``fact``, nearest first, none about a subject ``fact`` names."""
        if k == 0:
            return []
        margin = k
        while True:
            hits = self.store.search(fact, k + margin, "dense")
            chosen = [self.facts[int(hit.id)] for hit in hits if self.facts[int(hit.id)].subject not in fact]
            if len(chosen) >= k or len(hits) < k + margin:
                return chosen[:k]
            margin *= 2

    def for_fact(self, fact: str, k: int, template: str, seed: int) -> list[str]:
        """The demonstrations before ``fact``'s own: typed by a shuffle seeded from ``seed`` and the fact, the
        nearest last."""
        rng = random.Random(f"{seed}:{hashlib.sha256(fact.encode()).hexdigest()}")
        nearest = self.nearest(fact, k)
        types = type_list(len(nearest), rng)
        return [pool_fact.demonstration(kind, template) for pool_fact, kind in zip(nearest, types, strict=True)][::-1]
