"""The document world: biography passages of world people to be updated with new facts (DocMEdit on a model that
knows the people, because it was trained on such passages).

A document is one person's biography stating some of their relations (training templates, the world's true
objects). The update brings ``facts`` new facts about relations the passage does not state, each with an object
the model does not believe; the evidence states each in one training template, the target passage adds it in
another (the answer is extrapolative: not a copy of the evidence). Each document carries its facts as structured
edit requests too, for methods that edit triples (MEMIT).
"""

from __future__ import annotations

import random

from amend.requests import DocumentRequest, EditRequest
from amend.testbeds.world import World, load_world
from amend.testbeds.world.generator import PERSON_RELATIONS, sentence

MIN_KEPT = 2
"""Relations every source passage states (so a document has something to keep)."""


def world_documents(n: int, facts: int, seed: int = 0, world: World | None = None) -> list[DocumentRequest]:
    """``n`` biography updates of ``n`` different people, each with ``facts`` new facts (1 to 5 with the seven
    person relations). The people and their relation order depend on ``seed`` only, so documents with more facts
    update the same people."""
    world = world if world is not None else load_world()
    if not 1 <= facts <= len(PERSON_RELATIONS) - MIN_KEPT:
        raise ValueError(f"facts must be between 1 and {len(PERSON_RELATIONS) - MIN_KEPT}, got {facts}")
    if not 1 <= n <= len(world.people):
        raise ValueError(f"n must be between 1 and {len(world.people)}, got {n}")
    order = random.Random(seed).sample(world.people, n)
    documents = []
    for index, person in enumerate(order):
        rng = random.Random(f"{seed}/{person.name}")
        relations = rng.sample(PERSON_RELATIONS, len(PERSON_RELATIONS))
        new, kept = relations[:facts], relations[facts:]
        source = " ".join(sentence(rng.choice(world.relations[r].train), person.name, person.facts[r]) for r in kept)
        evidence, added, requests = [], [], []
        for relation in new:
            stated, written = rng.sample(world.relations[relation].train, 2)
            obj = rng.choice([o for o in _objects(world, relation) if o != person.facts[relation]])
            evidence.append(sentence(stated, person.name, obj))
            added.append(sentence(written, person.name, obj))
            rid = f"world-doc-{seed}-{index}/{relation}"
            requests.append(EditRequest(stated, person.name, obj, person.facts[relation], id=rid))
        documents.append(
            DocumentRequest(
                title=person.name,
                source=source,
                target=" ".join([source, *added]),
                evidence=tuple(evidence),
                facts=tuple(requests),
                id=f"world-doc-{seed}-{index}-{facts}",
            )
        )
    return documents


def _objects(world: World, relation: str) -> list[str]:
    return list(world.relations[relation].objects)
