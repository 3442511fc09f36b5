"""The fictional world is deterministic and obeys the constraints the evaluation relies on."""

from __future__ import annotations

import itertools
import re

import pytest

from amend.requests import fill
from amend.testbeds.world.generator import (
    CITY_RELATION,
    PERSON_RELATIONS,
    TWO_HOP_RELATION,
    World,
    generate,
    relation_first,
)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text)


@pytest.fixture(scope="module")
def world() -> World:
    return generate(seed=0, n_people=600)


def test_same_seed_same_world() -> None:
    assert generate(3, 200).to_json() == generate(3, 200).to_json()
    assert generate(3, 200).to_json() != generate(4, 200).to_json()


def test_json_round_trip(world: World) -> None:
    assert World.from_json(world.to_json()) == world
    assert World.from_json(world.to_json()).to_json() == world.to_json()


def test_last_names_unique_and_distinct_from_every_other_word(world: World) -> None:
    lasts = [p.last for p in world.people]
    assert len(set(lasts)) == len(lasts)
    others = {p.first for p in world.people}
    for rel in world.relations.values():
        others |= set(rel.objects)
    assert not others & set(lasts)
    assert len({p.name for p in world.people}) == len(world.people)


def test_every_name_and_object_is_one_word(world: World) -> None:
    for rel in world.relations.values():
        assert all(len(_words(o)) == 1 for o in rel.objects), rel.name
    assert all(len(_words(p.first)) == 1 and len(_words(p.last)) == 1 for p in world.people)


def test_objects_per_relation(world: World) -> None:
    assert len(PERSON_RELATIONS) >= 6
    for rel in world.relations.values():
        assert 30 <= len(rel.objects) <= 200, rel.name
        assert len(set(rel.objects)) == len(rel.objects)
    for p in world.people:
        assert set(p.facts) == set(PERSON_RELATIONS)
        assert all(p.facts[r] in world.relations[r].objects for r in PERSON_RELATIONS)


def test_two_hop_chain(world: World) -> None:
    countries = set(world.relations[CITY_RELATION].objects)
    assert set(world.city_country) == set(world.relations["birth_city"].objects)
    assert set(world.city_country.values()) == countries
    p = world.people[0]
    assert world.answer(p.name, TWO_HOP_RELATION) == world.city_country[p.facts["birth_city"]]


def test_template_counts_and_shape(world: World) -> None:
    for rel in world.relations.values():
        assert len(rel.train) >= 6 and len(rel.heldout) >= 2, rel.name
        assert not set(rel.train) & set(rel.heldout)
        for t in rel.templates:
            assert t.count("{}") == 1 and t == t.strip() and not t.endswith((".", ",")), t


def test_relation_before_and_after_subject(world: World) -> None:
    """About half the templates name the relation before the subject, half after."""
    for name, rel in world.relations.items():
        assert sum(relation_first(name, t) for t in rel.train) == len(rel.train) // 2, name
        assert sum(relation_first(name, t) for t in rel.heldout) == len(rel.heldout) // 2, name


def test_no_filled_template_is_a_prefix_of_another(world: World) -> None:
    """A prefix pair would make the next word ambiguous (the object, or the rest of the longer template)."""
    person, city = world.people[0].name, next(iter(world.city_country))
    filled = []
    for rel in world.relations.values():
        for subject in (person, city):
            filled += [(rel.name, t, _words(fill(t, subject))) for t in rel.templates]
    for (r1, t1, a), (r2, t2, b) in itertools.permutations(filled, 2):
        assert b[: len(a)] != a, f"{r1}: {t1!r} is a prefix of {r2}: {t2!r}"


def test_heldout_templates_use_only_trained_words(world: World) -> None:
    """Held-out paraphrases recombine known words; a word never trained would be noise, not a paraphrase."""
    trained = {w for rel in world.relations.values() for t in rel.train for w in _words(t)}
    for rel in world.relations.values():
        for t in rel.heldout:
            assert set(_words(t)) <= trained, t
