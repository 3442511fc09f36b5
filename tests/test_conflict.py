"""The conflict measure: how much the edited model still gives the old object on the edit prompt and its rephrases."""

import math

import pytest
import torch
from helpers import ROME_TEST_SETTINGS, corpus, tokenizer, trained_tiny_model, world_like_requests

from amend.evaluation import EvaluationSettings, evaluate
from amend.evaluation.metrics.probability import conflict_probability, mean_nll
from amend.evaluation.observe import Observation, item_values
from amend.evaluation.tasks import Item
from amend.lm import Scored
from amend.stats import Corpus

QUIET = EvaluationSettings(progress=False)

PROTOCOLS = ("probability", "token_accuracy", "exact_match")


def test_conflict_probability_on_fixed_logits():
    # The old object is two tokens; log_softmax([0, 1, 0]) at token 1 = 1 - log(e + 2) = -0.5514, and
    # log_softmax([1, 1, 0]) at token 0 = 1 - log(2e + 1) = -0.8620: p̄ = exp(-(0.5514 + 0.8620) / 2) = 0.4933
    logits = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    logprobs = logits.log_softmax(-1)
    old = [logprobs[0, 1].item(), logprobs[1, 0].item()]
    assert conflict_probability(mean_nll(old)) == pytest.approx(0.4933, abs=1e-4)
    assert conflict_probability(0.0) == 1.0 and conflict_probability(math.inf) == 0.0


def observation(answer_p, old_p, old_is_argmax, generation):
    answer = Scored((7,), (math.log(answer_p),), (7,))
    old = Scored((5,), (math.log(old_p),), (5 if old_is_argmax else 7,))
    return Observation(answer, old, generation)


def test_edit_prompts_and_rephrases_report_conflict_per_protocol():
    still_old = observation(0.2, 0.7, True, " Paris. It")
    for metric in ("reliability", "generalization"):
        item = Item(0, metric, "", "The Eiffel Tower is in", "Rome", "Paris")
        values = item_values(item, still_old, still_old, PROTOCOLS)["conflict"]
        assert values == {"probability": pytest.approx(0.7), "token_accuracy": 1.0, "exact_match": 1.0}
    forgotten = observation(0.9, 0.05, False, " Rome.")
    item = Item(0, "reliability", "", "The Eiffel Tower is in", "Rome", "Paris")
    values = item_values(item, forgotten, still_old, PROTOCOLS)["conflict"]
    assert values == {"probability": pytest.approx(0.05), "token_accuracy": 0.0, "exact_match": 0.0}


def test_no_conflict_without_an_old_object_nor_on_other_metrics():
    seen = observation(0.5, 0.5, True, " Paris")
    assert "conflict" not in item_values(Item(0, "reliability", "", "p", "Rome", None), seen, seen, PROTOCOLS)
    assert "conflict" not in item_values(Item(0, "reliability", "", "p", "Rome", "rome"), seen, seen, PROTOCOLS)
    for metric in ("locality", "portability"):
        assert "conflict" not in item_values(Item(0, metric, "k", "p", "Paris", "Rome"), seen, seen, PROTOCOLS)


def test_evaluation_reports_conflict_before_and_after(tmp_path):
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    options = dict(corpus=Corpus.from_texts(corpus()), cache_dir=tmp_path)
    requests = world_like_requests()
    result = evaluate(model, tok, requests, "rome", settings=QUIET, **options, **ROME_TEST_SETTINGS)
    after, before = result.summary["conflict"], result.pre_summary["conflict"]
    assert set(after) == set(PROTOCOLS) and after["probability"]["records"] == 4
    assert after["probability"]["prompts"] == sum(1 + len(r.rephrase) for r in requests)
    assert before["probability"]["mean"] > 0.5  # the unedited model gives the old objects
    assert after["probability"]["mean"] < before["probability"]["mean"] - 0.2
    assert "conflict/prefixed" in result.summary and list(result.summary)[-2:] == ["conflict", "conflict/prefixed"]
