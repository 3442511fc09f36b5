"""Edit requests drawn from the world are valid counterfactuals with the right kinds of probes."""

from __future__ import annotations

import re

import pytest

from amend.requests import EditRequest
from amend.testbeds.world import DATA_DIR, PERSON_RELATIONS, TWO_HOP_RELATION, World, edit_requests, generate


@pytest.fixture(scope="module")
def world() -> World:
    return generate(seed=4, n_people=120)


def test_requests_are_counterfactual_and_well_formed(world: World) -> None:
    requests = edit_requests(60, seed=1, world=world)
    assert len(requests) == 60 and len({r.subject for r in requests}) == 60
    edited_facts = {_asks(world, r.prompt.replace("{}", r.subject)) for r in requests}
    for r in requests:
        assert isinstance(r, EditRequest) and r.prompt.count("{}") == 1
        assert r.target_new != r.target_true
        person = world.person(r.subject)
        relation = world.relation_of(r.prompt)
        assert r.prompt in world.relations[relation].train
        assert r.target_true == person.facts[relation]
        assert r.target_new in world.relations[relation].objects
        assert len(r.rephrase) >= 2 and all(r.subject in x.prompt for x in r.rephrase)
        assert {x.kind for x in r.rephrase} == {"relation_first", "subject_first", "distractor"}
        distractor = next(x.prompt for x in r.rephrase if x.kind == "distractor")
        assert distractor.index(r.subject) > 0 and any(distractor.endswith(x.prompt) for x in r.rephrase)
        kinds = {p.kind for p in r.locality}
        assert kinds == {"neighbour", "same_subject"}
        assert all(r.subject not in p.prompt for p in r.locality if p.kind == "neighbour")
        assert not any(_asks(world, p.prompt) in edited_facts for p in r.locality)
        same = [p for p in r.locality if p.kind == "same_subject"]
        assert len(same) == len(PERSON_RELATIONS) - 1 and all(r.subject in p.prompt for p in same)
        if relation == "birth_city":
            assert r.portability and all(p.kind == "two_hop" for p in r.portability)
            assert {p.answer for p in r.portability} == {world.city_country[r.target_new]}
            assert {p.foil for p in r.portability} == {world.answer(r.subject, TWO_HOP_RELATION)}
            assert world.city_country[r.target_new] != world.answer(r.subject, TWO_HOP_RELATION)
        else:
            assert not r.portability


def _asks(world: World, prompt: str) -> tuple[str, str]:
    """The (person, relation) a filled training-template prompt asks about."""
    (person,) = [p.name for p in world.people if re.search(rf"\b{re.escape(p.name)}\b", prompt)]
    return person, world.relation_of(prompt.replace(person, "{}"))


def test_more_requests_than_people_edit_distinct_facts_and_never_probe_an_edited_one(world: World) -> None:
    n_people = len(world.people)
    requests = edit_requests(2 * n_people + 30, seed=2, world=world)
    edited = [_asks(world, r.prompt.replace("{}", r.subject)) for r in requests]
    assert len(set(edited)) == len(edited)
    for start in range(len(requests) - n_people + 1):  # any window of len(people) edits distinct people
        assert len({r.subject for r in requests[start : start + n_people]}) == n_people
    probed = {_asks(world, p.prompt) for r in requests for p in r.locality}
    assert probed and not probed & set(edited)
    with pytest.raises(ValueError, match="people × relations"):
        edit_requests(n_people * len(PERSON_RELATIONS) + 1, world=world)


def test_requests_are_reproducible(world: World) -> None:
    assert edit_requests(10, seed=5, world=world) == edit_requests(10, seed=5, world=world)
    assert edit_requests(10, seed=5, world=world) != edit_requests(10, seed=6, world=world)
    with pytest.raises(ValueError):
        edit_requests(0, world=world)


@pytest.mark.skipif(not (DATA_DIR / "world.json").exists(), reason="no shipped model")
def test_shipped_world_requests() -> None:
    requests = edit_requests(5, seed=0)
    assert len(requests) == 5 and all(r.target_new != r.target_true for r in requests)
