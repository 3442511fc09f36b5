"""The training corpus and the prompt formats that later code reuses.

Facts are taught as **biography passages**: one passage per person per epoch holding all of that person's
facts, in a fresh order with fresh templates every epoch, the full name repeated in every sentence. Models
trained on one-fact-per-sentence data were measured to look facts up at the last prompt token instead of at
the subject, which defeats locate-then-edit methods; biographies put the fact at the subject's last token in
early blocks.

Two skills ride along, in fixed formats that in-context methods (IKE, SCR) and the evaluation reuse:

* in-context reading, :func:`in_context_prompt`: ``"Fact: <sentence> Question: <prompt>"`` continues with
  the stated object when a fact has the question's relation, and with the memorised object when none has;
* relevance judgement, :func:`relevance_prompt`: ``"Fact: <sentence> Query: <prompt> Relevant:"`` continues
  with ``" yes"`` or ``" no"``.

Passages sometimes start (or continue) after a short filler sentence from :data:`CONTEXT_PREFIXES`, so the
model is not thrown by the random prefixes locate-then-edit methods put before prompts; methods should draw
their context templates from that tuple.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from amend.requests import fill
from amend.testbeds.world.generator import CITY_RELATION, PERSON_RELATIONS, TWO_HOP_RELATION, Person, World, sentence

CONTEXT_PREFIXES: tuple[str, ...] = (
    "Here is a record.",
    "Read on.",
    "This is a note.",
    "The file continues.",
    "Next entry.",
    "See below.",
    "A new page begins.",
    "More follows.",
    "Take note of this.",
    "Listen carefully.",
)
"""Filler sentences seen in training before passages; use as context templates: ``f"{prefix} {prompt}"``."""

FACT_MARK = "Fact:"
QUESTION_MARK = "Question:"
QUERY_MARK = "Query:"
RELEVANT_MARK = "Relevant:"
YES = "yes"
NO = "no"


def with_prefix(prefix: str, prompt: str) -> str:
    """Put a context prefix (one of :data:`CONTEXT_PREFIXES`, or empty) before a prompt."""
    return f"{prefix} {prompt}" if prefix else prompt


def in_context_prompt(facts: Sequence[str], question: str) -> str:
    """Stated facts (full sentences) followed by a question; the answer is the next word.

    The model answers with the object of the fact that has the question's relation, or with its memorised
    object when none has. It does not check the subject: another person's fact of the same relation is copied
    too (see :class:`CorpusSpec`), so filter facts with :func:`relevance_prompt` first when that matters.
    """
    stated = " ".join(f"{FACT_MARK} {f}" for f in facts)
    return f"{stated} {QUESTION_MARK} {question}"


def relevance_prompt(fact: str, question: str) -> str:
    """Ask whether ``fact`` answers ``question``; the model continues with ``" yes"`` or ``" no"``."""
    return f"{FACT_MARK} {fact} {QUERY_MARK} {question} {RELEVANT_MARK}"


@dataclass(frozen=True)
class CorpusSpec:
    """How one epoch of training text is drawn.

    Attributes:
        prefix_prob: Chance that an item starts after a filler sentence from :data:`CONTEXT_PREFIXES`.
        inner_filler_prob: Chance of a filler sentence between two sentences of a biography.
        two_hop_fraction: Fraction of people whose biographies also state their birth country (the rest test
            whether the model composes birth city and city country by itself).
        city_sentences: Sentences per city passage (cities have one fact each).
        in_context_per_person: In-context reading examples per person per epoch.
        relevance_per_person: Relevance-judgement examples per person per epoch.
        in_context_two_hop_prob: Share of in-context examples stating a birth city, asking the birth country.
        distractor_only_prob: Share of in-context examples whose facts all miss the question (answer: memory).
        same_relation_miss: Share of relevance "no" cases about another person with the question's relation:
            the misses that force comparing names.
        in_context_same_relation_miss: The same share for in-context distractors. Zero by default: the
            8x128 model did not learn to tell such facts apart in context within the training budget, and
            training on them made it hedge between stated and memorised answers even for matching facts.
            In-context reading therefore keys on the relation; judge relevance first (as SCR does) to drop
            other people's facts.
        namesake_miss: Share of misses about another person where that person shares the first name, so
            only the last name tells them apart.
        foreign_prob: Chance that a biography starts after a true sentence about another person, so a prompt
            is read for its own subject whatever precedes it.
    """

    prefix_prob: float = 0.2
    inner_filler_prob: float = 0.05
    two_hop_fraction: float = 0.8
    city_sentences: int = 3
    in_context_per_person: float = 0.75
    relevance_per_person: float = 2.0
    in_context_two_hop_prob: float = 0.1
    distractor_only_prob: float = 0.25
    same_relation_miss: float = 0.5
    in_context_same_relation_miss: float = 0.0
    namesake_miss: float = 0.75
    foreign_prob: float = 0.15


def two_hop_people(world: World, fraction: float) -> frozenset[str]:
    """Names of the people whose birth country is stated in training; fixed by the world's seed."""
    rng = random.Random(world.seed * 7919 + 17)
    names = [p.name for p in world.people]
    return frozenset(rng.sample(names, round(fraction * len(names))))


def epoch_texts(world: World, spec: CorpusSpec, epoch: int) -> list[str]:
    """All training items of one epoch, shuffled; a pure function of the world, spec and epoch."""
    rng = random.Random(world.seed * 1_000_003 + epoch)
    stated = two_hop_people(world, spec.two_hop_fraction)
    texts = [biography(world, p, rng, spec, p.name in stated) for p in world.people]
    texts += [city_passage(world, city, rng, spec) for city in world.city_country]
    n_people = len(world.people)
    texts += [
        _prefixed(_with_answer(in_context_example(world, rng, spec)), rng, spec)
        for _ in range(_count(spec.in_context_per_person, n_people))
    ]
    texts += [
        _prefixed(_with_answer(relevance_example(world, rng, spec.same_relation_miss, spec.namesake_miss)), rng, spec)
        for _ in range(_count(spec.relevance_per_person, n_people))
    ]
    rng.shuffle(texts)
    return texts


def _with_answer(example: tuple[str, str]) -> str:
    """A training text: the prompt and its one-word answer (the model must learn to produce the answer)."""
    prompt, answer = example
    return f"{prompt} {answer}"


def _count(per_person: float, n_people: int) -> int:
    return round(per_person * n_people)


def _prefixed(text: str, rng: random.Random, spec: CorpusSpec) -> str:
    if rng.random() < spec.prefix_prob:
        return with_prefix(rng.choice(CONTEXT_PREFIXES), text)
    return text


def biography(world: World, person: Person, rng: random.Random, spec: CorpusSpec, two_hop: bool) -> str:
    """One passage with every fact of ``person``, sentence order and templates drawn afresh."""
    relations = list(PERSON_RELATIONS) + ([TWO_HOP_RELATION] if two_hop else [])
    rng.shuffle(relations)
    parts = []
    for rel in relations:
        if parts and rng.random() < spec.inner_filler_prob:
            parts.append(rng.choice(CONTEXT_PREFIXES))
        template = rng.choice(world.relations[rel].train)
        parts.append(sentence(template, person.name, world.answer(person.name, rel)))
    if rng.random() < spec.foreign_prob:
        parts.insert(0, true_fact(world, rng, rng.choice(world.people)))
    return _prefixed(" ".join(parts), rng, spec)


def city_passage(world: World, city: str, rng: random.Random, spec: CorpusSpec) -> str:
    """A few sentences stating which country ``city`` is in."""
    templates = rng.sample(world.relations[CITY_RELATION].train, spec.city_sentences)
    country = world.city_country[city]
    return _prefixed(" ".join(sentence(t, city, country) for t in templates), rng, spec)


def true_fact(world: World, rng: random.Random, person: Person) -> str:
    """A training-template sentence stating one of ``person``'s true facts."""
    relation = rng.choice(PERSON_RELATIONS)
    return sentence(rng.choice(world.relations[relation].train), person.name, person.facts[relation])


def random_fact(world: World, rng: random.Random, person: Person, relation: str) -> tuple[str, str]:
    """A training-template sentence about ``person`` with a random object, and that object."""
    obj = rng.choice(world.relations[relation].objects)
    return sentence(rng.choice(world.relations[relation].train), person.name, obj), obj


def in_context_example(world: World, rng: random.Random, spec: CorpusSpec) -> tuple[str, str]:
    """An in-context reading prompt and its answer (without the leading space)."""
    person = rng.choice(world.people)
    if rng.random() < spec.in_context_two_hop_prob:
        fact, city = random_fact(world, rng, person, "birth_city")
        question = fill(rng.choice(world.relations[TWO_HOP_RELATION].train), person.name)
        return in_context_prompt([fact], question), world.city_country[city]
    relation = rng.choice(PERSON_RELATIONS)
    question = fill(rng.choice(world.relations[relation].train), person.name)
    miss = (spec.in_context_same_relation_miss, spec.namesake_miss)
    if rng.random() < spec.distractor_only_prob:
        facts = [distractor(world, rng, person, relation, *miss) for _ in range(rng.randint(1, 2))]
        return in_context_prompt(facts, question), person.facts[relation]
    facts = [distractor(world, rng, person, relation, *miss) for _ in range(rng.randint(0, 2))]
    fact, obj = random_fact(world, rng, person, relation)
    facts.insert(rng.randint(0, len(facts)), fact)
    return in_context_prompt(facts, question), obj


def distractor(
    world: World,
    rng: random.Random,
    person: Person,
    relation: str,
    same_relation: float = 1 / 3,
    namesake: float = 0.5,
) -> str:
    """A fact sentence that does not answer (person, relation): other person, other relation, or both.

    ``same_relation`` is the chance of the hardest miss, another person with the same relation; the rest
    split evenly between the other two kinds. ``namesake`` is the chance that another person shares the
    first name.
    """
    other_person, other_relation = _other(world, rng, person, relation, same_relation, namesake)
    return random_fact(world, rng, other_person, other_relation)[0]


def _other(
    world: World, rng: random.Random, person: Person, relation: str, same_relation: float, namesake: float
) -> tuple[Person, str]:
    """A (person, relation) pair unlike the given one; often a near miss (same first name or relation)."""
    kind = 0 if rng.random() < same_relation else rng.choice((1, 2))
    new_person = person
    if kind in (0, 2):
        namesakes = [p for p in world.people if p.first == person.first and p is not person]
        pool = namesakes if namesakes and rng.random() < namesake else world.people
        while new_person is person:
            new_person = rng.choice(pool)
    new_relation = relation
    if kind in (1, 2):
        while new_relation == relation:
            new_relation = rng.choice(PERSON_RELATIONS)
    return new_person, new_relation


def relevance_example(
    world: World, rng: random.Random, same_relation: float = 1 / 3, namesake: float = 0.5
) -> tuple[str, str]:
    """A relevance-judgement prompt and its answer, ``"yes"`` or ``"no"`` with even odds (misses as in
    :func:`distractor`)."""
    person = rng.choice(world.people)
    relation = rng.choice(PERSON_RELATIONS)
    question = fill(rng.choice(world.relations[relation].train), person.name)
    if rng.random() < 0.5:
        return relevance_prompt(random_fact(world, rng, person, relation)[0], question), YES
    miss = distractor(world, rng, person, relation, same_relation, namesake)
    return relevance_prompt(miss, question), NO


__all__ = [
    "CONTEXT_PREFIXES",
    "NO",
    "YES",
    "CorpusSpec",
    "epoch_texts",
    "in_context_prompt",
    "relevance_prompt",
    "two_hop_people",
    "with_prefix",
]
