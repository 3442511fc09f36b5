"""The shipped knowledge-world model: it knows its world, stores facts at the subject, and takes ROME edits."""

import json

import pytest

from amend.diagnostics import free_vector_reach
from amend.evaluation import EvaluationSettings, evaluate
from amend.methods.memit.config import MemitConfig
from amend.testbeds import world
from amend.testbeds.world.defaults import EDIT_DEFAULTS
from amend.testbeds.world.recall import recall_report


@pytest.fixture(scope="module")
def shipped():
    return world.load()


@pytest.fixture(scope="module")
def recall(shipped):
    model, tokenizer, facts = shipped
    return recall_report(model, tokenizer, facts, limit=1500)


def test_shipped_model_recall_meets_its_targets(recall):
    assert recall["train_templates"] >= 0.99
    assert recall["heldout_templates"] >= 0.97
    assert recall["relevance"] >= 0.95


def test_shipped_model_reads_stated_facts_in_context(recall):
    assert recall["in_context"] >= 0.95


def test_the_shipped_model_is_the_world_testbeds_and_gets_its_defaults_from_it(shipped):
    model, _, _ = shipped
    assert json.loads((world.DATA_DIR / "config.json").read_text())["amend_testbed"] == "world"
    assert "amend_defaults" not in model.config.to_dict()  # the settings live in the testbed, not in the model
    assert MemitConfig.for_model(model).layers == tuple(EDIT_DEFAULTS["memit"]["layers"])
    assert MemitConfig.for_model(model, model_defaults={}).layers != tuple(EDIT_DEFAULTS["memit"]["layers"])
    assert sum(p.numel() * p.element_size() for p in model.parameters()) < 20 * 2**20


def test_a_free_vector_at_the_subject_steers_the_answer(shipped):
    model, tokenizer, facts = shipped
    requests = world.edit_requests(8, seed=3, world=facts)
    reach = free_vector_reach(model, tokenizer, requests, layers=[0], positions=["subject_last"], steps=100)
    assert max(reach.values()) >= 0.9


def test_rome_edits_the_world_model(shipped, tmp_path):
    model, tokenizer, facts = shipped
    requests = world.edit_requests(12, seed=5, world=facts)
    result = evaluate(
        model,
        tokenizer,
        requests,
        "rome",
        settings=EvaluationSettings(protocols=("probability",), progress=False),
        cache_dir=tmp_path,
    )
    summary = {name: value["probability"]["mean"] for name, value in result.summary.items()}
    # On 100 requests (docs/world.md): reliability 0.99, generalization 0.895, neighbours 1.00, same person's other
    # relations 0.853 (target 0.90, open). Twelve requests leave room for sampling noise.
    assert summary["reliability"] >= 0.9
    assert summary["generalization"] >= 0.75
    assert summary["locality_agreement/neighbour"] >= 0.97
    assert summary["locality_agreement/same_subject"] >= 0.6
