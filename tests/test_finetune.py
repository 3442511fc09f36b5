"""FT-L, FT-M and LoRA: the objective's positions by hand, the L∞ bound, low-rank merged deltas, attached adapters
that leave every weight as it was, and peft's modules gone after the edit."""

from __future__ import annotations

import pytest
import torch
from helpers import edit_request, tiny_model, tokenizer

from amend import Editor
from amend.changes import ModuleAdapter, WeightDelta, attached
from amend.fingerprint import fingerprint
from amend.lm import CausalLM
from amend.methods.finetune.objective import Objective
from amend.testbeds import load as load_testbed
from amend.tokens import target_ids


def test_the_objectives_score_the_target_tokens_where_each_protocol_says():
    tok = tokenizer()
    request = edit_request("{} speaks", "Toko Yasuda", "Dutch Christianity")
    prompt, target = target_ids(tok, request.text, request.target_new)
    assert len(target) >= 2
    forced = Objective.build(tok, [request], "target", torch.device("cpu"))
    assert forced.cols.tolist() == [len(prompt) - 1 + j for j in range(len(target))]
    assert forced.batch.input_ids[0, : len(prompt) + len(target) - 1].tolist() == prompt + target[:-1]
    last = Objective.build(tok, [request], "prompt_last", torch.device("cpu"))
    assert last.cols.tolist() == [len(prompt) - 1] * len(target) and last.tokens.tolist() == target
    assert last.batch.input_ids.shape[1] == len(prompt)


def test_the_loss_is_the_mean_over_requests_of_each_requests_mean_nll():
    model, tok = tiny_model("gpt2"), tokenizer()
    requests = [
        edit_request("{} speaks", "Toko Yasuda", "Dutch Christianity"),
        edit_request("{} plays the", "Honus Wagner"),
    ]
    objective = Objective.build(tok, requests, "target", torch.device("cpu"))
    scored = CausalLM(model, tok, progress=False).score([(r.text, r.target_new) for r in requests])
    expected = sum(s.nll for s in scored) / 2
    assert objective.loss(model).item() == pytest.approx(expected, rel=1e-5)


@pytest.fixture(scope="module")
def world():
    bed = load_testbed("world")
    return bed.model, bed.tokenizer, bed.requests(3)


def test_ft_l_keeps_every_weight_within_its_bound_and_touches_only_its_layer(world):
    model, tok, requests = world
    before = {name: t.clone() for name, t in model.state_dict().items()}
    editor = Editor(model, tok, "ft-l", norm_constraint=1e-3, lr=1e-2, steps=5)
    patch = editor.edit(requests[:1])
    changed = {name for name, t in model.state_dict().items() if not torch.equal(t, before[name])}
    assert changed == {f"{patch.modules[0]}.weight"} and len(patch.modules) == 1
    delta = patch.changes[0].matrix()
    assert 0 < delta.abs().max() <= torch.tensor(1e-3)  # the bound in the weights' float32
    editor.revert()
    assert all(torch.equal(t, before[name]) for name, t in model.state_dict().items())


def test_ft_m_writes_the_target(world):
    model, tok, requests = world
    lm = CausalLM(model, tok, progress=False)
    request = requests[0]
    editor = Editor(model, tok, "ft-m", norm_constraint=0.0, lr=1e-2, steps=25)
    editor.edit([request])
    new, true = lm.score([(request.text, request.target_new), (request.text, request.target_true)])
    editor.revert()
    assert new.nll < true.nll


@pytest.mark.parametrize("merge", [True, False])
def test_lora_merged_is_low_rank_and_unmerged_leaves_the_weights(world, merge):
    model, tok, requests = world
    lm = CausalLM(model, tok, progress=False)
    request = requests[1]
    names, base = list(model.state_dict()), fingerprint(model)
    types, attributes = [type(module) for module in model.modules()], set(vars(model))
    before = {name: t.clone() for name, t in model.state_dict().items()}
    editor = Editor(model, tok, "lora", layers=[1, 2], rank=2, steps=30, merged=merge)
    patch = editor.edit([request])
    assert list(model.state_dict()) == names and [type(m) for m in model.modules()] == types  # peft is gone
    assert set(vars(model)) - {"_amend_attached"} == attributes - {"_amend_attached"}
    new, true = lm.score([(request.text, request.target_new), (request.text, request.target_true)])
    assert new.nll < true.nll
    if merge:
        assert all(isinstance(c, WeightDelta) and c.rank == 2 for c in patch.changes) and len(patch.changes) == 2
    else:
        assert all(isinstance(c, ModuleAdapter) for c in patch.changes) and len(attached(model).adapters) == 2
        assert all(torch.equal(t, before[name]) for name, t in model.state_dict().items())
    editor.revert()
    assert fingerprint(model) == base and not attached(model)
