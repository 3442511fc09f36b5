import json

import pytest
import torch
from helpers import ROME_TEST_SETTINGS, corpus, edit_request, tokenizer, trained_tiny_model

import amend
from amend import Patch, PatchMismatch
from amend.stats import Corpus

FIRST = edit_request("The mother tongue of {} is", "Danielle Darrieux")
SECOND = edit_request("{} works for", "Apple A5")


def rome(model, tok, cache, requests):
    return amend.edit(
        model, tok, requests, "rome", corpus=Corpus.from_texts(corpus()), cache_dir=cache, **ROME_TEST_SETTINGS
    )


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


@pytest.fixture
def gpt2():
    return trained_tiny_model("gpt2"), tokenizer()


def test_saved_patch_reproduces_the_edit_bit_for_bit(gpt2, tmp_path):
    model, tok = gpt2
    patch = rome(model, tok, tmp_path / "cache", [FIRST, SECOND])
    patch.save(tmp_path / "patch")
    assert sorted(p.name for p in (tmp_path / "patch").iterdir()) == ["patch.json", "tensors.safetensors"]
    meta = json.loads((tmp_path / "patch" / "patch.json").read_text())
    assert meta["method"] == "rome" and meta["config"]["layer"] == 0 and len(meta["requests"]) == 2
    assert meta["amend_version"] == amend.__version__ and meta["base_fingerprint"] == patch.base_fingerprint

    fresh = trained_tiny_model("gpt2")
    loaded = Patch.load(tmp_path / "patch")
    assert loaded.requests == [FIRST, SECOND] and [s.rank for s in loaded.changes] == [1, 1]
    loaded.apply(fresh)
    assert same_weights(fresh, model)
    loaded.revert()
    patch.revert()
    assert same_weights(fresh, trained_tiny_model("gpt2")) and same_weights(model, fresh)


def test_apply_refuses_another_model(gpt2, tmp_path):
    model, tok = gpt2
    patch = rome(model, tok, tmp_path, [FIRST])
    patch.revert()
    other = trained_tiny_model("gpt2", steps=299)  # same architecture, other weights
    before = [p.clone() for p in other.parameters()]
    with pytest.raises(PatchMismatch, match="fingerprint"):
        patch.apply(other)
    assert all(torch.equal(a, b) for a, b in zip(before, other.parameters(), strict=True))
    with pytest.raises(PatchMismatch, match="not applied"):
        patch.revert()


def test_sequential_patches_chain_revert_in_order_and_compose(gpt2, tmp_path):
    model, tok = gpt2
    first = rome(model, tok, tmp_path, [FIRST])
    second = rome(model, tok, tmp_path, [SECOND])
    assert second.base_fingerprint == first.result_fingerprint
    with pytest.raises(PatchMismatch, match="changed since"):
        first.revert()  # the second patch rewrote the same weight after it
    edited = {k: v.clone() for k, v in model.state_dict().items()}

    composed = Patch.compose([first, second])
    fresh = trained_tiny_model("gpt2")
    composed.apply(fresh)
    assert all(torch.equal(edited[k], v) for k, v in fresh.state_dict().items())
    with pytest.raises(PatchMismatch, match="compose"):
        Patch.compose([second, first])

    second.revert()
    first.revert()
    assert same_weights(model, trained_tiny_model("gpt2"))


def test_load_rejects_a_directory_that_is_not_a_patch(tmp_path):
    with pytest.raises(PatchMismatch, match="not a saved patch"):
        Patch.load(tmp_path)
