"""A fictional world and a small GPT-2 trained from scratch that knows its facts: a knowledge-editing testbed.

Every fact of the world is known, every object is one token, and the shipped model recalls the facts it was
trained on, so an edit's success, generalisation and locality can be measured exactly and offline::

    from amend.testbeds import world
    model, tokenizer, w = world.load()
    requests = world.edit_requests(10, seed=0)

The shipped model lives in ``amend/testbeds/world/data`` (model, tokenizer, ``world.json``, and ``model_card.json``
with its training configuration and measured recall). Retrain it with ``python -m amend.testbeds.world.train --out
DIR``.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from amend.requests import EditRequest, Probe, Rephrase, fill
from amend.testbeds.world.corpus import (
    CONTEXT_PREFIXES,
    NO,
    YES,
    in_context_prompt,
    relevance_prompt,
    true_fact,
    with_prefix,
)
from amend.testbeds.world.generator import (
    CITY_RELATION,
    PERSON_RELATIONS,
    TWO_HOP_RELATION,
    Person,
    Relation,
    World,
    generate,
    relation_first,
    sentence,
)

if TYPE_CHECKING:
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

DATA_DIR = Path(__file__).parent / "data"
WORLD_FILE = "world.json"


def model_dir(path: str | Path | None = None) -> Path:
    """A trained world model's folder: ``path``, or the shipped model's when None."""
    return Path(path) if path is not None else DATA_DIR


def load_world(path: str | Path | None = None) -> World:
    """The world a trained model was trained on (default: the shipped model's)."""
    return World.from_json(json.loads((model_dir(path) / WORLD_FILE).read_text()))


def load(path: str | Path | None = None) -> tuple[GPT2LMHeadModel, PreTrainedTokenizerFast, World]:
    """Model (in eval mode), tokenizer and world from ``path`` (default: the shipped model), offline."""
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

    from amend.testbeds.base import mark

    folder = model_dir(path)
    model = GPT2LMHeadModel.from_pretrained(folder, local_files_only=True)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder, local_files_only=True)
    mark(model, "world")  # a model trained before the marker existed is still the world's
    return model.eval(), tokenizer, load_world(folder)


def edit_requests(
    n: int,
    seed: int = 0,
    world: World | None = None,
    relations: Sequence[str] = PERSON_RELATIONS,
    n_neighbours: int = 4,
) -> list[EditRequest]:
    """``n`` counterfactual edits of distinct (person, relation) facts, with rephrase, locality and portability.

    People are drawn in one random order and revisited in that same order, each time with a relation of theirs
    not edited yet, so any ``len(world.people)`` consecutive requests edit different people: MEMIT-style batches
    must not hold two edits of one subject (their keys coincide and the least-squares solve would average the
    two targets). ``n`` can go up to people × relations (sequential runs of thousands of edits).

    * ``prompt``: a training template; ``target_true`` the real object, ``target_new`` another object of the
      same relation (for a birth city, a city in another country, so the two-hop answer must change);
    * ``rephrase``: the relation's held-out templates, with kind ``"relation_first"`` or ``"subject_first"``,
      and one held-out template after a true sentence about someone else, kind ``"distractor"``;
    * ``locality``: ``"neighbour"`` probes (the same relation of other people) and ``"same_subject"`` probes
      (the person's other relations), with their true answers; no probe asks a fact any of the ``n`` requests
      edits, so locality stays defined when all of them are applied;
    * ``portability``: for birth-city edits, ``"two_hop"`` probes asking the birth country, answered by the
      country of the new city (``foil``: the country the true birth city implies).
    """
    world = world if world is not None else load_world()
    slots = len(world.people) * len(relations)
    if not 0 < n <= slots:
        raise ValueError(f"n must be between 1 and {slots} (people × relations), got {n}")
    rng = random.Random(seed)
    chosen = _edited_facts(world, rng, n, list(relations))
    edited = {(person.name, relation) for person, relation in chosen}
    return [
        _request(world, rng, person, relation, edited, n_neighbours, f"world-{seed}-{i}")
        for i, (person, relation) in enumerate(chosen)
    ]


def _edited_facts(world: World, rng: random.Random, n: int, relations: list[str]) -> list[tuple[Person, str]]:
    """``n`` distinct (person, relation) pairs, people in rounds of one fixed random order."""
    order = rng.sample(world.people, len(world.people))
    left = {p.name: rng.sample(relations, len(relations)) for p in order}
    rounds = itertools.chain.from_iterable(itertools.repeat(order, len(relations)))
    return [(p, left[p.name].pop()) for p in itertools.islice(rounds, n)]


def _request(
    world: World,
    rng: random.Random,
    person: Person,
    relation: str,
    edited: set[tuple[str, str]],
    n_neighbours: int,
    rid: str,
) -> EditRequest:
    rel = world.relations[relation]
    true = person.facts[relation]
    new = rng.choice(_alternatives(world, relation, true))
    others = [p for p in world.people if p.name != person.name and (p.name, relation) not in edited]
    neighbours = rng.sample(others, min(n_neighbours, len(others)))
    locality = [_probe(world, rng, p, relation, "neighbour") for p in neighbours]
    kept = [r for r in PERSON_RELATIONS if r != relation and (person.name, r) not in edited]
    locality += [_probe(world, rng, person, r, "same_subject") for r in kept]
    portability = _two_hop_probes(world, person, new) if relation == "birth_city" else []
    rephrase = [Rephrase(fill(t, person.name), _order(relation, t)) for t in rel.heldout]
    rephrase.append(_distractor_rephrase(world, rng, person, rel))
    return EditRequest(
        prompt=rng.choice(rel.train),
        subject=person.name,
        target_new=new,
        target_true=true,
        rephrase=tuple(rephrase),
        locality=tuple(locality),
        portability=tuple(portability),
        id=rid,
    )


def _distractor_rephrase(world: World, rng: random.Random, person: Person, relation: Relation) -> Rephrase:
    """A held-out template after a true sentence about another person (CounterFact's paraphrases likewise follow
    an unrelated clause): the edit must hold when the subject is not the first thing in the context."""
    other = rng.choice([p for p in world.people if p.name != person.name])
    clause = true_fact(world, rng, other)
    return Rephrase(f"{clause} {fill(rng.choice(relation.heldout), person.name)}", "distractor")


def _order(relation: str, template: str) -> str:
    return "relation_first" if relation_first(relation, template) else "subject_first"


def _two_hop_probes(world: World, person: Person, new_city: str) -> list[Probe]:
    """Birth-country questions: after the edit the answer is the new city's country, no longer the old one."""
    old = world.answer(person.name, TWO_HOP_RELATION)
    templates = world.relations[TWO_HOP_RELATION].templates
    return [Probe(fill(t, person.name), world.city_country[new_city], "two_hop", old) for t in templates]


def _alternatives(world: World, relation: str, true: str) -> list[str]:
    """Objects an edit may write: any other object, or for birth cities, cities of another country."""
    objects = world.relations[relation].objects
    if relation == "birth_city":
        return [c for c in objects if world.city_country[c] != world.city_country[true]]
    return [o for o in objects if o != true]


def _probe(world: World, rng: random.Random, person: Person, relation: str, kind: str) -> Probe:
    template = rng.choice(world.relations[relation].train)
    return Probe(fill(template, person.name), person.facts[relation], kind)


__all__ = [
    "CITY_RELATION",
    "CONTEXT_PREFIXES",
    "DATA_DIR",
    "NO",
    "PERSON_RELATIONS",
    "TWO_HOP_RELATION",
    "YES",
    "Person",
    "Relation",
    "World",
    "edit_requests",
    "generate",
    "in_context_prompt",
    "load",
    "load_world",
    "model_dir",
    "relevance_prompt",
    "sentence",
    "with_prefix",
]
