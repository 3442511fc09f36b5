"""The shipped world model loads offline and knows its facts (a quick sample of the full measurement)."""

from __future__ import annotations

import json
import random

import pytest
from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

from amend.world import DATA_DIR, World, edit_requests, load
from amend.world.recall import accuracy, template_cases

Shipped = tuple[GPT2LMHeadModel, PreTrainedTokenizerFast, World]

pytestmark = pytest.mark.skipif(not (DATA_DIR / "model.safetensors").exists(), reason="no shipped model")


@pytest.fixture(scope="module")
def shipped() -> Shipped:
    return load()


def test_size_and_card() -> None:
    assert (DATA_DIR / "model.safetensors").stat().st_size <= 20 * 2**20
    card = json.loads((DATA_DIR / "model_card.json").read_text())
    assert card["recall"]["train_templates"] >= 0.99


def test_recalls_training_and_heldout_templates(shipped: Shipped) -> None:
    model, tokenizer, world = shipped
    rng = random.Random(0)
    for which, floor in (("train", 0.97), ("heldout", 0.93)):
        cases = rng.sample(template_cases(world, which), 300)
        assert accuracy(model, tokenizer, cases) >= floor, which


def test_edit_request_probes_hold_before_editing(shipped: Shipped) -> None:
    model, tokenizer, _ = shipped
    requests = edit_requests(20, seed=0)
    targets = [(r.text, r.target_true) for r in requests]
    locality = [(p.prompt, p.answer) for r in requests for p in r.locality]
    assert accuracy(model, tokenizer, targets) >= 0.9
    assert accuracy(model, tokenizer, locality) >= 0.9
