"""Metric functions against hand-computed values."""

import math

import pytest
import torch

from amend.evaluation.metrics import (
    exact_match,
    first_clause,
    mean_token_probability,
    normalize,
    prefers,
    token_accuracy,
    token_agreement,
)
from amend.evaluation.metrics.probability import mean_nll
from amend.evaluation.report import aggregate, named_values


def test_probability_protocol_on_fixed_logits():
    # Two answer tokens after a prompt; vocabulary of 3. Hand computation:
    # log_softmax([2, 0, 0]) at token 0 = 2 - log(e^2 + 2) = -0.2395; log_softmax([0, 1, 0]) at token 1 = -0.5514
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    logprobs = logits.log_softmax(-1)
    answer = [logprobs[0, 0].item(), logprobs[1, 1].item()]
    foil = [logprobs[0, 2].item(), logprobs[1, 2].item()]
    assert mean_nll(answer) == pytest.approx((0.23954 + 0.55144) / 2, abs=1e-4)
    assert mean_nll(foil) == pytest.approx((2.23954 + 1.55144) / 2, abs=1e-4)
    assert prefers(mean_nll(answer), mean_nll(foil)) and not prefers(mean_nll(foil), mean_nll(answer))
    assert mean_token_probability(mean_nll(answer)) == pytest.approx(math.sqrt(0.78699 * 0.57612), abs=1e-4)


def test_token_accuracy_and_agreement_on_fixed_logits():
    logits = torch.tensor([[0.1, 3.0, 0.2], [2.0, 0.0, 1.0], [0.0, 0.0, 5.0]])
    argmax = logits.argmax(-1).tolist()  # [1, 0, 2]
    assert token_accuracy(argmax, [1, 2, 2]) == pytest.approx(2 / 3)
    assert token_agreement(argmax, [1, 0, 0]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        token_accuracy([1], [1, 2])


@pytest.mark.parametrize(
    ("generation", "answer", "expected"),
    [
        (" Paris. The capital", "Paris", True),
        (" the Paris", "Paris", True),  # articles dropped
        (" PARIS!", "paris", True),
        (" Paris and Rome", "Paris", False),
        (" U.S. Army\nnext", "U.S. Army", True),  # a '.' inside a word does not end the clause
        ("", "Paris", False),
    ],
)
def test_exact_match(generation, answer, expected):
    assert exact_match(generation, answer) is expected


def test_normalize_and_first_clause():
    assert normalize("  The  Eiffel-Tower, a landmark ") == "eiffeltower landmark"
    assert first_clause("Rome; then Paris") == "Rome"


def test_aggregation_is_per_record_then_dataset_with_counts():
    values = [
        {"reliability": {"probability": 1.0}},
        {"generalization": {"probability": 1.0}},
        {"generalization": {"probability": 0.0}},
        {"generalization": {"probability": 0.0}},  # record 0: generalization 1/3
        {"reliability": {"probability": 0.0}},
        {"generalization": {"probability": 1.0}},  # record 1: generalization 1
    ]
    records, summary = aggregate(values, [0, 0, 0, 0, 1, 1])
    assert records[0]["generalization"]["probability"] == pytest.approx(1 / 3)
    assert summary["generalization"]["probability"] == {"mean": pytest.approx(2 / 3), "records": 2, "prompts": 4}
    assert summary["reliability"]["probability"]["mean"] == 0.5
    assert list(summary) == ["reliability", "generalization"]


def test_kinds_are_reported_beside_the_metric():
    named = named_values({"locality_accuracy": {"probability": 1.0}}, "neighbour")
    assert set(named) == {"locality_accuracy", "locality_accuracy/neighbour"}
