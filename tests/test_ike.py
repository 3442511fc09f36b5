"""IKE: demonstration types in the 1:3:4 ratio, the nearest pool fact last, no demonstration about the test fact's
subject, the prompt fitted to the model's context, and edits of the world model through evaluation."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from amend import Editor
from amend.architectures import anatomy
from amend.evaluation import EvaluationSettings, evaluate
from amend.lm import CausalLM
from amend.methods.ike.demonstrations import COPY, RETAIN, UPDATE, DemonstrationPool, PoolFact, type_list
from amend.methods.ike.method import ANSWER_ROOM, Ike
from amend.requests import EditRequest, Probe, Rephrase
from amend.testbeds import load as load_testbed
from amend.tokens import encode


@pytest.mark.parametrize(("k", "counts"), [(32, (4, 12, 16)), (16, (2, 6, 8)), (8, (1, 3, 4)), (3, (0, 1, 2))])
def test_demonstration_types_come_in_the_ratio_one_three_four(k, counts):
    types = type_list(k, random.Random(0))
    assert (Counter(types)[COPY], Counter(types)[UPDATE], Counter(types)[RETAIN]) == counts
    assert type_list(k, random.Random(0)) == types  # seeded


def request(subject, prompt, new, rephrase, neighbour, answer):
    return EditRequest(prompt, subject, new, rephrase=(Rephrase(rephrase),), locality=(Probe(neighbour, answer),))


POOL = [
    request("The Louvre", "{} is located in", "Berlin", "Where is the Louvre? It is in", "The Prado is in", "Madrid"),
    request("Mount Fuji", "{} is a mountain in", "Peru", "Mount Fuji rises in", "K2 is a mountain in", "Pakistan"),
    request("The Eiffel Tower", "{} is located in", "Oslo", "The tower of Eiffel is in", "Big Ben is in", "London"),
    request("Bananas", "{} are", "blue", "The colour of bananas is", "Apples are", "red"),
]


def test_demonstrations_never_use_the_test_subject_and_put_the_nearest_last(embedder):
    pool = DemonstrationPool([PoolFact.of(r, "{prompt} {target}") for r in POOL], embedder)
    fact = "The Eiffel Tower is located in Rome"
    nearest = pool.nearest(fact, 3)
    assert nearest[0].subject == "The Louvre"  # the same relation, another landmark
    assert all(p.subject != "The Eiffel Tower" for p in nearest)  # never the test fact's subject
    demos = pool.for_fact(fact, 3, "New Fact: {fact}\nPrompt: {prompt}", seed=0)
    assert len(demos) == 3 and demos[-1].startswith("New Fact: The Louvre is located in Berlin\nPrompt: ")
    louvre = PoolFact.of(POOL[0], "{prompt} {target}")
    assert louvre.demonstration(UPDATE, "{fact} | {prompt}") == (
        "The Louvre is located in Berlin | Where is the Louvre? It is in Berlin"
    )
    assert (
        louvre.demonstration(RETAIN, "{fact} | {prompt}") == "The Louvre is located in Berlin | The Prado is in Madrid"
    )
    assert louvre.demonstration(COPY, "{fact} | {prompt}") == (
        "The Louvre is located in Berlin | The Louvre is located in Berlin"
    )


@pytest.fixture(scope="module")
def world():
    bed = load_testbed("world")
    return bed.model, bed.tokenizer, bed.requests(6)


def test_ike_edits_the_world_model_and_fits_its_context(world):
    model, tok, requests = world
    settings = EvaluationSettings(protocols=("probability",), progress=False)
    result = evaluate(model, tok, requests, "ike", settings=settings, demonstrations=32, pool_size=60)
    summary = {name: value["probability"]["mean"] for name, value in result.summary.items()}
    assert result.pre_summary["reliability"]["probability"]["mean"] == 0.0
    assert summary["reliability"] >= 0.8 and summary["generalization"] >= 0.6


def test_the_farthest_demonstrations_are_left_out_when_the_prompt_would_not_fit(world):
    model, tok, requests = world
    editor = Editor(model, tok, "ike", demonstrations=32, pool_size=60)
    seen = Ike.observed(CausalLM(model, tok), model, editor.config)
    editor.edit(requests[0])
    query = requests[0].rephrase[0].prompt
    prompt = seen.context(query)
    fact = f"{requests[0].text} {requests[0].target_new}."
    all_demos = seen.context.pool.for_fact(fact, 32, editor.config.demo_template, editor.config.seed)
    kept = [demo for demo in all_demos if demo in prompt]
    assert len(encode(tok, prompt)) <= anatomy(model).context_length - ANSWER_ROOM
    assert 0 < len(kept) < len(all_demos) and kept == all_demos[-len(kept) :]  # the nearest ones, in their order
    assert prompt.endswith(f"Fact: {fact} Question: {fact} Fact: {fact} Question: {query}")
    editor.revert()
