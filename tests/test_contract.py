"""The contract every method keeps, on every architecture of the table: generated from the registry, so a method is
covered by registering it.

For each (method, architecture), on a tiny random model: the edit changes exactly what its patch declares (the weights
of its weight deltas, the adapters and facts it attaches) and nothing else; a failure half-way through a later edit
leaves the model, its attachments and the method's state exactly as they were; revert restores every weight bit for
bit and removes every attachment; a saved patch loads and re-applies to the same bit and fingerprint.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from helpers import SUBJECTS, TINY_CONFIGS, corpus, edit_request, tiny_model, tokenizer

from amend import EditFailed, Editor, Patch
from amend.changes import ContextFacts, Journal, ModuleAdapter, WeightDelta, attached
from amend.fingerprint import fingerprint
from amend.lm import CausalLM
from amend.methods import load_method
from amend.registry import METHODS
from amend.stats import Corpus
from contract_methods import Remember, Steer

METHOD_CASES = [*METHODS, Steer, Remember]
ARCHITECTURES = sorted(TINY_CONFIGS)
# Just enough work for every method to write something: the contract is about what is written, not how well.
FAST = {
    "v_num_grad_steps": 2,
    "steps": 2,
    "stats_tokens": 300,
    "context_templates": ("Rain fell. {}",),
    "layer": 1,
    "layers": (0, 1),
    # AlphaEdit's reference absolute threshold leaves no null space in a tiny random model's keys: it would write 0.
    "threshold_mode": "relative",
    "nullspace_threshold": 0.01,
    # SCR: words, not an embedder, find the facts; a tiny random model cannot judge, so every candidate is read.
    "retrieval": "lexical",
    "judge": False,
    "demonstrations": 0,  # IKE: the new fact alone (no pool of other facts for a tiny model)
}
CORPUS = Corpus.from_texts(corpus(60))


def _settings(method) -> dict:
    config_cls = load_method(method).config_cls
    names = {field.name for field in dataclasses.fields(config_cls)}
    return {key: value for key, value in FAST.items() if key in names}


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[name], b[name]) for name in a)


def _declared(patch: Patch) -> tuple[set[str], set[str], list[str]]:
    weights = {c.target for c in patch.changes if isinstance(c, WeightDelta)}
    adapters = {c.label for c in patch.changes if isinstance(c, ModuleAdapter)}
    facts = [fact for c in patch.changes if isinstance(c, ContextFacts) for fact in c.facts]
    return weights, adapters, facts


def _name(method) -> str:
    return method if isinstance(method, str) else method.name


@pytest.mark.parametrize("model_type", ARCHITECTURES)
@pytest.mark.parametrize("method", METHOD_CASES, ids=_name)
def test_the_edit_contract(method, model_type, tmp_path, monkeypatch):
    model, tok = tiny_model(model_type), tokenizer()
    first = [edit_request("{} works for", SUBJECTS[0]), edit_request("{} speaks", SUBJECTS[1])]
    second = [edit_request("{} plays the", SUBJECTS[2])]
    pristine, base = _weights(model), fingerprint(model)
    editor = Editor(model, tok, method, corpus=CORPUS, cache_dir=tmp_path / "cache", **_settings(method))
    seen = load_method(method).observed(CausalLM(model, tok), model, editor.config)  # what evaluation would see
    probe = [(request.text, request.target_new) for request in first]
    scores_before = seen.score(probe)

    patch = editor.edit(first)
    edited, state = _weights(model), {k: v.clone() for k, v in editor.state.items()}
    scores_edited = seen.score(probe)
    assert scores_edited != scores_before  # the change reaches what evaluation observes
    weights, adapters, facts = _declared(patch)
    changed = {name for name in pristine if not torch.equal(pristine[name], edited[name])}
    assert (changed and changed <= weights) or adapters or facts  # the edit wrote something, ...
    assert changed <= weights  # ... and no weight it did not declare
    assert set(attached(model).adapters) == adapters and attached(model).facts() == facts
    assert fingerprint(model) == patch.result_fingerprint != base
    patch.save(tmp_path / "patch")
    attached_digest = attached(model).digest()

    real_add = Journal.add

    def fail_after_writing(journal, change):
        real_add(journal, change)
        raise RuntimeError("injected failure after a change was written")

    monkeypatch.setattr(Journal, "add", fail_after_writing)
    with pytest.raises(EditFailed, match="left unchanged"):
        editor.edit(second)
    monkeypatch.undo()
    assert _same(_weights(model), edited) and attached(model).digest() == attached_digest
    assert editor.state.keys() == state.keys() and all(torch.equal(editor.state[k], state[k]) for k in state)
    assert fingerprint(model) == patch.result_fingerprint

    editor.revert()
    assert _same(_weights(model), pristine) and not attached(model) and fingerprint(model) == base
    assert seen.score(probe) == scores_before

    loaded = Patch.load(tmp_path / "patch").apply(model)
    assert _same(_weights(model), edited) and fingerprint(model) == patch.result_fingerprint
    assert set(attached(model).adapters) == adapters and attached(model).facts() == facts
    assert seen.score(probe) == scores_edited
    loaded.revert()
    assert _same(_weights(model), pristine) and not attached(model) and fingerprint(model) == base
