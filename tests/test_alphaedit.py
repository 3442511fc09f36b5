import pytest
import torch
from helpers import BATCH_TEST_SETTINGS, corpus, edit_request, tokenizer, trained_tiny_model

import amend
from amend.architectures import Component, Site, anatomy
from amend.hooks import capture
from amend.methods.alphaedit.method import AlphaEdit, state_key
from amend.methods.locate.keys import subject_keys
from amend.methods.locate.templates import ContextTemplates
from amend.stats import Corpus, StatsCache, StatsSettings
from amend.tokens import encode

FIRST = [edit_request("The mother tongue of {} is", "Danielle Darrieux"), edit_request("{} works for", "Apple A5")]
SECOND = [edit_request("{} plays the", "Toko Yasuda"), edit_request("{} was born in", "Honus Wagner")]
SETTINGS = {
    **BATCH_TEST_SETTINGS,
    "v_num_grad_steps": 40,
    "nullspace_threshold": 0.004,
    "threshold_mode": "relative",
    "stats_tokens": 20_000,
}  # mom2_update_weight is unused by AlphaEdit's update


def editor(model, tok, tmp_path, **overrides):
    options = {**SETTINGS, **overrides}
    return amend.Editor(model, tok, "alphaedit", corpus=Corpus.from_texts(corpus()), cache_dir=tmp_path, **options)


def projector(model, tok, tmp_path, layer):
    return StatsCache(tmp_path).projectors(
        anatomy(model),
        tok,
        [layer],
        Corpus.from_texts(corpus()),
        StatsSettings(token_budget=20_000),
        0.004,
        "relative",
        progress=False,
    )[layer]


def corpus_keys(model, tok, layer, n=60):
    site = Site(Component.MLP_KEY, layer)
    keys = []
    for text in corpus(n, seed=7):
        with capture(anatomy(model), [site]) as records, torch.no_grad():
            model(input_ids=torch.tensor([encode(tok, text)]))
        keys.append(records[site][0])
    return torch.cat(keys).double().T  # (d_in, tokens)


def test_projector_is_a_symmetric_idempotent_map_onto_what_preserved_keys_avoid(tmp_path):
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    p = projector(model, tok, tmp_path, 1)
    assert torch.allclose(p, p.T, atol=1e-10) and torch.allclose(p @ p, p, atol=1e-8)
    rank = int(torch.linalg.matrix_rank(p))
    assert 0 < rank < p.shape[0]
    k0 = corpus_keys(model, tok, 1)
    in_null_space = float((p @ k0).norm() / k0.norm())
    basis, _ = torch.linalg.qr(
        torch.randn(p.shape[0], rank, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    )
    in_random_subspace = float((basis @ basis.T @ k0).norm() / k0.norm())
    assert in_null_space < 0.1 and in_null_space < 0.3 * in_random_subspace  # preserved keys avoid P's range
    assert list(tmp_path.rglob("*__Prelative0.004.safetensors"))  # cached beside the statistics


def test_update_lies_in_the_null_space_and_state_accumulates_post_edit_keys(tmp_path):
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    projectors = {layer: projector(model, tok, tmp_path, layer) for layer in (0, 1)}  # of the unedited model
    run = editor(model, tok, tmp_path)
    templates = ContextTemplates.with_prefixes(SETTINGS["context_templates"])
    expected = {}
    for batch in (FIRST, SECOND):
        patch = run.edit(batch)
        for layer in (0, 1):  # keys taken after the batch is written, on the edited model
            keys = subject_keys(anatomy(model), tok, batch, templates, layer, average="grouped").double()
            expected[layer] = expected.get(layer, 0) + keys.T @ keys
        for step, layer in zip(patch.changes, (0, 1), strict=True):
            x = step.matrix().double().T  # X = ΔWᵀ, (d_in, d_out)
            p = projectors[layer]
            assert torch.allclose(p @ x, x, atol=1e-5 * x.abs().max())
    for layer in (0, 1):
        assert torch.allclose(run.state[state_key(layer)], expected[layer], rtol=1e-5, atol=1e-6)


def test_editor_revert_save_and_load(tmp_path):
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    original = {k: v.clone() for k, v in model.state_dict().items()}
    run = editor(model, tok, tmp_path / "cache")
    run.edit(FIRST)
    run.edit(SECOND)
    edited = {k: v.clone() for k, v in model.state_dict().items()}
    run.save(tmp_path / "run")

    fresh = trained_tiny_model("gpt2")
    again = amend.Editor.load(
        tmp_path / "run", fresh, tok, corpus=Corpus.from_texts(corpus()), cache_dir=tmp_path / "cache"
    )
    assert all(torch.equal(edited[k], v) for k, v in fresh.state_dict().items())
    assert again.state.keys() == run.state.keys()
    assert all(torch.equal(again.state[k], run.state[k]) for k in run.state)
    with pytest.raises(amend.PatchMismatch, match="unedited"):
        amend.Editor.load(tmp_path / "run", fresh, tok)  # already edited: another fingerprint

    run.revert()
    assert run.state == {} and run.patches == []
    assert all(torch.equal(original[k], v) for k, v in model.state_dict().items())


def test_a_failed_batch_restores_weights_and_state(tmp_path, monkeypatch):
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    run = editor(model, tok, tmp_path)
    run.edit(FIRST)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    state = {k: v.clone() for k, v in run.state.items()}
    from amend.methods.alphaedit.method import AlphaEdit

    real = AlphaEdit.after_batch

    def failing(self, requests, templates):
        real(self, requests, templates)  # the state is already changed when the failure comes
        raise RuntimeError("disk full")

    monkeypatch.setattr(AlphaEdit, "after_batch", failing)
    with pytest.raises(amend.EditFailed):
        run.edit(SECOND)
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert run.state.keys() == state.keys() and all(torch.equal(run.state[k], state[k]) for k in state)
    assert len(run.patches) == 1


def test_a_threshold_given_without_its_mode_is_absolute_and_the_world_gives_both():
    from amend.methods.alphaedit.config import AlphaEditConfig
    from amend.methods.come.config import ComeConfig
    from amend.testbeds import world

    model, _, _ = world.load()
    shipped = AlphaEditConfig.for_model(model)
    assert (shipped.threshold_mode, shipped.nullspace_threshold) == ("relative", 0.01)  # the world's own setting
    given = AlphaEditConfig.for_model(model, nullspace_threshold=0.5)
    assert (given.threshold_mode, given.nullspace_threshold) == ("absolute", 0.5)  # not the world's unit
    come = ComeConfig.for_model(model, base="alphaedit", nullspace_threshold=0.5)
    assert come.threshold_mode == "absolute"  # CoME layers its base's defaults with the same rule


def test_the_kept_projection_of_earlier_keys_gives_the_updates_of_recomputing_it(tmp_path, monkeypatch):
    """P C_p is computed once and then grown by (P Kᵀ) K after each batch; a run that recomputes P C_p densely at
    every batch writes the same weights (to float64 rounding)."""
    tok = tokenizer()
    kept, dense = trained_tiny_model("gpt2"), trained_tiny_model("gpt2")
    kept_editor = editor(kept, tok, tmp_path)
    for batch in (FIRST, SECOND, FIRST):
        kept_editor.edit(batch)
    assert any(key[0] == "projected_previous" for key in kept_editor.resources.factored if isinstance(key, tuple))
    real = AlphaEdit.projected_previous

    def recomputed(self, layer, projector):
        self.resources.factored.pop(("projected_previous", layer), None)
        return real(self, layer, projector)

    monkeypatch.setattr(AlphaEdit, "projected_previous", recomputed)
    dense_editor = editor(dense, tok, tmp_path)
    for batch in (FIRST, SECOND, FIRST):
        dense_editor.edit(batch)
    for a, b in zip(kept.parameters(), dense.parameters(), strict=True):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7)
