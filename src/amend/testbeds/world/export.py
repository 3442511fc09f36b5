"""The world's edit requests written as CounterFact (ROME/MEMIT's nested format), so benchmark code runs on them.

Each request of :func:`amend.testbeds.world.edit_requests` becomes a CounterFact record with CounterFact's meanings,
which are narrower than the world requests' probes:

* ``requested_rewrite``: the edit (``relation_id`` is the world relation; an object's ``id`` is its name);
* ``paraphrase_prompts``: the request's rephrases (the relation's held-out templates);
* ``neighborhood_prompts``: the edit template filled with people whose true object is the edit's old object (so
  the expected answer is ``target_true``, as CounterFact assumes) and whose fact of this relation no exported edit
  changes;
* ``attribute_prompts``: the same with people whose true object is the edit's new object;
* ``generation_prompts``: the edit prompt and its rephrases, about the subject.

The world requests' same-subject and two-hop probes have their own answers, which CounterFact cannot hold; they
are not exported.
"""

from __future__ import annotations

from typing import Any

from amend.requests import EditRequest, fill
from amend.testbeds.world import edit_requests, load_world
from amend.testbeds.world.generator import World

N_NEIGHBOURS = 10


def counterfact_records(n: int, seed: int = 0, world: World | None = None) -> list[dict[str, Any]]:
    """``n`` world edits as CounterFact records (``case_id`` 0..n-1)."""
    world = world if world is not None else load_world()
    requests = edit_requests(n, seed, world=world)
    relations = [world.relation_of(request.prompt) for request in requests]
    edited = {(request.subject, relation) for request, relation in zip(requests, relations, strict=True)}
    return [
        _record(case_id, world, request, relation, edited)
        for case_id, (request, relation) in enumerate(zip(requests, relations, strict=True))
    ]


def _record(
    case_id: int, world: World, request: EditRequest, relation: str, edited: set[tuple[str, str]]
) -> dict[str, Any]:
    new, true = request.target_new, request.target_true or ""
    rephrases = [r.prompt for r in request.rephrase]
    return {
        "case_id": case_id,
        "requested_rewrite": {
            "prompt": request.prompt,
            "relation_id": relation,
            "target_new": {"str": new, "id": new},
            "target_true": {"str": true, "id": true},
            "subject": request.subject,
        },
        "paraphrase_prompts": rephrases,
        "neighborhood_prompts": _holders(world, relation, true, request.prompt, edited),
        "attribute_prompts": _holders(world, relation, new, request.prompt, edited),
        "generation_prompts": [request.text, *rephrases],
    }


def _holders(world: World, relation: str, obj: str, template: str, edited: set[tuple[str, str]]) -> list[str]:
    """The template filled with up to N_NEIGHBOURS people whose ``relation`` is ``obj`` and stays so."""
    people = [p.name for p in world.people if p.facts.get(relation) == obj and (p.name, relation) not in edited]
    return [fill(template, name) for name in people[:N_NEIGHBOURS]]
