"""Fact-sheet documents built from a benchmark's edit requests (CounterFact, zsRE …), for document editing on a real
model when no DocMEdit file is at hand.

A fact sheet states ``kept`` true facts of some records, one sentence each (the filled prompt and the true object).
Its update brings ``facts`` new facts of other records: the evidence states each with the record's first rephrase
(or its prompt) and the new object, the target adds it as the filled prompt and the new object (so the answer is not
a copy of the evidence when a rephrase exists). The new facts travel as the records themselves, for methods that
edit triples. Records without a true object are skipped; no subject appears twice in a document.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from amend.requests import DocumentRequest, EditRequest, sentence


def fact_sentence(request: EditRequest, obj: str) -> str:
    """``request``'s filled prompt and ``obj`` as one sentence."""
    return sentence(request.prompt, request.subject, obj.strip())


def fact_sheet_documents(
    requests: Sequence[EditRequest], n: int, facts: int, kept: int = 3, seed: int = 0
) -> list[DocumentRequest]:
    """``n`` fact sheets of ``kept`` true facts updated with ``facts`` new ones, records drawn without repetition
    (seeded); the same seed gives the same kept facts whatever ``facts`` is, so documents differ only by the update."""
    usable = [r for r in requests if r.target_true]
    rng = random.Random(seed)
    order = rng.sample(usable, len(usable))
    needed = n * (kept + facts)
    if needed > len(order):
        raise ValueError(f"{n} documents of {kept} + {facts} facts need {needed} records with a true object")
    sheets, new_pool = order[: n * kept], order[n * kept :]
    documents = []
    for index in range(n):
        stated = sheets[index * kept : (index + 1) * kept]
        subjects = {r.subject for r in stated}
        updates = []
        while len(updates) < facts:
            candidate = new_pool.pop(0)
            if candidate.subject not in subjects:
                updates.append(candidate)
                subjects.add(candidate.subject)
        source = " ".join(fact_sentence(r, r.target_true) for r in stated)
        evidence = tuple(_evidence(r) for r in updates)
        target = " ".join([source, *(fact_sentence(r, r.target_new) for r in updates)])
        documents.append(
            DocumentRequest(
                title=stated[0].subject,
                source=source,
                target=target,
                evidence=evidence,
                facts=tuple(updates),
                id=f"sheet-{seed}-{index}-{facts}",
            )
        )
    return documents


def _evidence(request: EditRequest) -> str:
    said = request.rephrase[0].prompt if request.rephrase else request.text
    return f"{said} {request.target_new.strip()}."
