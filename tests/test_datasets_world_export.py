"""The world's CounterFact export keeps CounterFact's meanings, so the benchmark loader reads it back faithfully."""

import json

import pytest

from amend import datasets, world
from amend.testbeds.world.export import N_NEIGHBOURS, counterfact_records


@pytest.fixture(scope="module")
def facts():
    return world.load_world()


def test_exported_records_have_counterfact_semantics(facts):
    requests = world.edit_requests(12, seed=4, world=facts)
    records = counterfact_records(12, seed=4, world=facts)
    relations = [r["requested_rewrite"]["relation_id"] for r in records]
    edited = {(r.subject, relation) for r, relation in zip(requests, relations, strict=True)}
    for record, request in zip(records, requests, strict=True):
        rewrite = record["requested_rewrite"]
        relation = rewrite["relation_id"]
        assert request.prompt in facts.relations[relation].templates
        assert facts.person(request.subject).facts[relation] == rewrite["target_true"]["str"] == request.target_true
        assert record["paraphrase_prompts"] == [r.prompt for r in request.rephrase]
        for key, obj in (("neighborhood_prompts", request.target_true), ("attribute_prompts", request.target_new)):
            assert len(record[key]) <= N_NEIGHBOURS
            for prompt in record[key]:
                # another person whose fact no exported edit changes, with the true object CounterFact assumes
                name = prompt.removeprefix(request.prompt.split("{}")[0]).removesuffix(request.prompt.split("{}")[1])
                assert (name, relation) not in edited and facts.person(name).facts[relation] == obj
    assert sum(len(r["neighborhood_prompts"]) for r in records) > 0


def test_the_export_loads_back_as_the_same_edits(facts, tmp_path):
    path = tmp_path / "cf.json"
    path.write_text(json.dumps(counterfact_records(8, seed=1, world=facts)))
    loaded = datasets.load("counterfact", path)
    requests = world.edit_requests(8, seed=1, world=facts)
    assert [(r.prompt, r.subject, r.target_new, r.target_true) for r in loaded] == [
        (r.prompt, r.subject, r.target_new, r.target_true) for r in requests
    ]
    assert all(r.generation[0] == r.text for r in loaded)
