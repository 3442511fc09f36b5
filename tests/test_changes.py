"""The three change kinds beyond what the contract matrix checks: adapters and memories in a patch's files,
files from elsewhere refused, the old weight-only format, fingerprints over attachments, composition."""

import json

import pytest
import torch
from helpers import SUBJECTS, edit_request, tiny_model, tokenizer

import amend
from amend import Patch, PatchMismatch
from amend.architectures import Component, Site
from amend.changes import AddVector, ContextFacts, Journal, ModuleAdapter, WeightDelta, attached
from amend.fingerprint import fingerprint
from amend.lm import CausalLM, ContextualLM, all_facts
from contract_methods import Remember, Steer

REQUESTS = [edit_request("{} works for", SUBJECTS[0]), edit_request("{} speaks", SUBJECTS[1])]


def test_an_added_vector_reaches_the_next_layer_as_exactly_that_vector():
    model, tok = tiny_model("llama"), tokenizer()
    vector = torch.linspace(-1, 1, model.config.hidden_size)
    ids = torch.tensor([tok("Rain fell on the town")["input_ids"]])
    next_layer = model.model.layers[2]

    def input_of_the_next_layer() -> torch.Tensor:
        seen = []
        handle = next_layer.register_forward_pre_hook(lambda _m, args, kwargs: seen.append(args[0]), with_kwargs=True)
        with torch.no_grad():
            logits = model(input_ids=ids).logits
        handle.remove()
        return seen[0], logits

    hidden_before, logits_before = input_of_the_next_layer()
    journal = Journal(model)
    journal.add(ModuleAdapter(Site(Component.BLOCK_OUTPUT, 1), AddVector(vector), "v"))
    hidden_after, logits_after = input_of_the_next_layer()
    assert torch.allclose(hidden_after - hidden_before, vector.expand_as(hidden_before), atol=1e-5)
    assert not torch.allclose(logits_after, logits_before)
    journal.rollback()
    hidden_reverted, logits_reverted = input_of_the_next_layer()
    assert torch.equal(hidden_reverted, hidden_before) and torch.equal(logits_reverted, logits_before)


def test_a_saved_adapter_and_memory_load_as_they_were(tmp_path):
    model, tok = tiny_model("gpt2"), tokenizer()
    steer = amend.Editor(model, tok, Steer, scale=3.0).edit(REQUESTS)
    remember = amend.Editor(model, tok, Remember, memory="notes").edit(REQUESTS)
    steer.save(tmp_path / "steer")
    remember.save(tmp_path / "remember")
    described = json.loads((tmp_path / "steer" / "patch.json").read_text())["changes"]
    assert [c["kind"] for c in described] == ["module_adapter"] * 2 and described[0]["adapter"] == "add_vector"
    loaded = Patch.load(tmp_path / "steer")
    for saved, original in zip(loaded.changes, steer.changes, strict=True):
        assert saved.site == original.site and saved.label == original.label
        assert torch.equal(saved.component.vector, original.component.vector)
        assert saved.component.vector.norm().item() == pytest.approx(3.0)
    assert Patch.load(tmp_path / "remember").changes == remember.changes
    assert attached(model).facts("notes") == [f"{r.text} {r.target_new}." for r in REQUESTS]


def test_a_patch_naming_an_unregistered_adapter_or_change_is_refused(tmp_path):
    model, tok = tiny_model("gpt2"), tokenizer()
    amend.Editor(model, tok, Steer).edit(REQUESTS[:1]).save(tmp_path / "p")
    meta_file = tmp_path / "p" / "patch.json"
    meta = json.loads(meta_file.read_text())
    meta["changes"][0]["adapter"] = "os:system"
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(PatchMismatch, match="unknown adapter 'os:system'"):
        Patch.load(tmp_path / "p")
    meta["changes"][0]["kind"] = "pickle"
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(PatchMismatch, match="kind 'pickle'"):
        Patch.load(tmp_path / "p")


def test_a_patch_of_the_weight_only_format_still_loads(tmp_path):
    from safetensors.torch import save_file

    model = tiny_model("gpt2")
    module = "transformer.h.0.mlp.c_proj"
    left, right = torch.randn(32, 1), torch.randn(1, 64)
    save_file({"0.left": left, "0.right": right}, str(tmp_path / "deltas.safetensors"))
    meta = {
        "format_version": 1,
        "method": "rome",
        "config": {},
        "base_fingerprint": fingerprint(model),
        "steps": [{"module": module, "low_rank": True}],
        "requests": [REQUESTS[0].to_dict()],
    }
    (tmp_path / "patch.json").write_text(json.dumps(meta))
    before = model.get_submodule(module).weight.detach().clone()  # Conv1D: (in, out)
    patch = Patch.load(tmp_path).apply(model)
    assert isinstance(patch.changes[0], WeightDelta) and patch.requests == REQUESTS[:1]
    assert torch.equal(model.get_submodule(module).weight, (before.float() + (left @ right).T).to(before.dtype))
    patch.revert()
    assert torch.equal(model.get_submodule(module).weight, before)


def test_the_fingerprint_sees_attachments_so_patches_chain_and_compose(tmp_path):
    model, tok = tiny_model("gpt2"), tokenizer()
    bare = fingerprint(model)
    steer = amend.Editor(model, tok, Steer).edit(REQUESTS[:1])
    assert fingerprint(model) == steer.result_fingerprint != bare
    remember = amend.Editor(model, tok, Remember).edit(REQUESTS[1:])
    assert remember.base_fingerprint == steer.result_fingerprint
    remember.save(tmp_path / "remember")
    remember.revert()
    steer.revert()
    assert fingerprint(model) == bare and not attached(model)
    with pytest.raises(PatchMismatch, match="fingerprint"):
        Patch.load(tmp_path / "remember").apply(model)  # computed on the steered model, not the bare one
    both = Patch.compose([steer, remember]).apply(model)
    assert fingerprint(model) == remember.result_fingerprint
    both.revert()
    assert fingerprint(model) == bare


def test_a_contextual_model_reads_the_memory_at_each_query():
    model, tok = tiny_model("gpt2"), tokenizer()
    seen = ContextualLM(CausalLM(model, tok), all_facts(model))
    plain = CausalLM(model, tok)
    pair = [(REQUESTS[0].text, REQUESTS[0].target_new)]
    assert seen.score(pair) == plain.score(pair)  # an empty memory is the model itself
    journal = Journal(model)
    journal.add(ContextFacts(("Rain fell.",)))
    assert seen.score(pair) == plain.score([("Rain fell. " + REQUESTS[0].text, REQUESTS[0].target_new)])
    journal.rollback()
    assert seen.score(pair) == plain.score(pair)
