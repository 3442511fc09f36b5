"""The training corpus teaches every fact in biographies and uses the published prompt formats."""

from __future__ import annotations

import random
import re

import pytest

from amend.testbeds.world.corpus import (
    CONTEXT_PREFIXES,
    NO,
    YES,
    CorpusSpec,
    biography,
    epoch_texts,
    in_context_example,
    in_context_prompt,
    relevance_example,
    relevance_prompt,
    two_hop_people,
    with_prefix,
)
from amend.testbeds.world.generator import PERSON_RELATIONS, TWO_HOP_RELATION, World, generate


@pytest.fixture(scope="module")
def world() -> World:
    return generate(seed=2, n_people=100)


def test_epoch_is_deterministic_and_changes_between_epochs(world: World) -> None:
    spec = CorpusSpec()
    assert epoch_texts(world, spec, 3) == epoch_texts(world, spec, 3)
    assert epoch_texts(world, spec, 3) != epoch_texts(world, spec, 4)
    assert len(epoch_texts(world, spec, 3)) == len(epoch_texts(world, spec, 4))


def test_biography_states_every_fact_with_the_full_name(world: World) -> None:
    spec = CorpusSpec(prefix_prob=0.0, inner_filler_prob=0.0)
    person = world.people[5]
    text = biography(world, person, random.Random(0), spec, two_hop=True)
    sentences = [s for s in text.split(". ") if s]
    assert len(sentences) == len(PERSON_RELATIONS) + 1
    assert all(person.name in s for s in sentences)
    for rel in (*PERSON_RELATIONS, TWO_HOP_RELATION):
        assert f" {world.answer(person.name, rel)}." in text + " "


def test_every_person_has_one_biography_per_epoch(world: World) -> None:
    texts = epoch_texts(world, CorpusSpec(), 0)
    for person in world.people[:10]:
        bios = [t for t in texts if not t.startswith(("Fact:", *CONTEXT_PREFIXES)) and t.count(person.name) >= 7]
        prefixed = [t for t in texts if t.startswith(CONTEXT_PREFIXES) and t.count(person.name) >= 7]
        assert len(bios) + len(prefixed) == 1


def test_two_hop_split_is_fixed(world: World) -> None:
    stated = two_hop_people(world, 0.8)
    assert len(stated) == 80 and stated == two_hop_people(world, 0.8)


def test_in_context_answers(world: World) -> None:
    rng = random.Random(0)
    objects = {o for r in (*PERSON_RELATIONS, TWO_HOP_RELATION) for o in world.relations[r].objects}
    for _ in range(200):
        prompt, answer = in_context_example(world, rng, CorpusSpec())
        assert prompt.startswith("Fact: ") and " Question: " in prompt
        assert answer in objects
        question = prompt.split(" Question: ")[1]
        subject = next(p for p in world.people if re.search(rf"\b{p.name}\b", question))
        stated = {o for o in world.relations["birth_city"].objects if f" {o}." in prompt}
        assert (
            f" {answer}." in prompt
            or answer in subject.facts.values()
            or answer in {world.city_country[c] for c in stated}
        )


def test_relevance_is_balanced_and_formatted(world: World) -> None:
    rng = random.Random(0)
    examples = [relevance_example(world, rng) for _ in range(400)]
    yes = sum(a == YES for _, a in examples)
    assert 150 < yes < 250 and all(a in (YES, NO) for _, a in examples)
    assert all(p.endswith(" Relevant:") and " Query: " in p for p, _ in examples)


def test_training_examples_end_with_their_answers(world: World) -> None:
    texts = epoch_texts(world, CorpusSpec(), 0)
    relevance = [t for t in texts if " Relevant: " in t]
    assert relevance and all(t.endswith((" yes", " no")) for t in relevance)
    questions = [t for t in texts if " Question: " in t]
    assert questions and all(not t.endswith(" is") for t in questions)


def test_formats_are_not_prefixes_of_each_other() -> None:
    ic = in_context_prompt(["A is B."], "C is")
    rel = relevance_prompt("A is B.", "C is")
    assert not rel.startswith(ic) and not ic.startswith(rel)
    assert with_prefix("Read on.", "X is") == "Read on. X is" and with_prefix("", "X is") == "X is"
