"""The shipped world model loads offline and knows its facts (a quick sample of the full measurement)."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest
from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

from amend.architectures import Component, Site, anatomy
from amend.methods.base import frozen
from amend.methods.locate.target import TargetSettings, optimise_targets
from amend.testbeds.world import DATA_DIR, World, edit_requests, load
from amend.testbeds.world.recall import accuracy, template_cases

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


def test_a_kl_prompt_predicting_the_old_object_is_left_out(shipped: Shipped) -> None:
    """Preserving the edit prompt's own distribution would preserve the fact being removed, so the target
    optimisation skips a KL prompt the model answers with the old object; with no old object known it cannot."""
    model, tokenizer, _ = shipped
    body = anatomy(model)
    request = edit_requests(1, seed=0)[0]
    site = Site(Component.MLP_OUTPUT, 0)
    other = "{} studied at" if "studied" not in request.prompt else "{} speaks"
    settings = TargetSettings(steps=5, kl_position="last", kl_factor=1.0, kl_prompts=(other,))
    with frozen(model):
        alone = optimise_targets(body, tokenizer, [request], ["{}"], site, settings).delta
        own = replace(settings, kl_prompts=(request.prompt, other))
        # The same vector up to the rounding of a differently padded batch (the partial forward pads the tokens
        # after the fact token to the longest row).
        left_out = optimise_targets(body, tokenizer, [request], ["{}"], site, own).delta
        assert float((left_out - alone).norm() / alone.norm()) < 1e-5
        unknown = replace(request, target_true=None)
        kept = optimise_targets(body, tokenizer, [unknown], ["{}"], site, own).delta
        assert float((kept - alone).norm() / alone.norm()) > 1e-2
