"""CoME: the outdated-fact vector, the shared component, the top-p restriction and the zero-vector guards (§5)."""

import pytest
import torch
from helpers import BATCH_TEST_SETTINGS, corpus, edit_request, facts, tiny_model, tokenizer, trained_tiny_model

import amend
from amend import EditRequest
from amend.architectures import Component, Site
from amend.lm import CausalLM
from amend.methods.alphaedit.method import state_key
from amend.methods.base import Resources, frozen
from amend.methods.come.config import ComeConfig
from amend.methods.come.method import ComeMemit, conflict_free_targets
from amend.methods.memit.method import Memit
from amend.stats import Corpus

DARRIEUX = edit_request("The mother tongue of {} is", "Danielle Darrieux")  # δ′ is optimised (old loss ≥ 0.05)
CERTAIN = [edit_request("{} works for", "Apple A5"), edit_request("{} plays the", "Toko Yasuda")]  # old loss < 0.05
REQUESTS = [DARRIEUX, *CERTAIN, edit_request("{} was born in", "Honus Wagner")]
SETTINGS = BATCH_TEST_SETTINGS


def edit(model, tok, requests, method, tmp_path, **settings):
    options = {**SETTINGS, **settings}
    return amend.edit(model, tok, requests, method, corpus=Corpus.from_texts(corpus()), cache_dir=tmp_path, **options)


def vectors(n=4, d=50, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(n, d, generator=generator) for _ in range(3)]


def test_only_the_top_p_coordinates_of_z0_change():
    init, delta, old = vectors()
    z0 = init + delta
    z = conflict_free_targets(init, delta, old, unlearn_weight=0.1, top_p=0.2)
    k = int(0.8 * 50)  # θ is the 40th smallest: the 11 coordinates at or above it may change
    threshold = z0.sort(dim=-1).values[:, k - 1 : k]
    top = z0 >= threshold
    assert torch.equal(top.sum(-1), torch.full((4,), 11))
    assert torch.equal(z[~top], z0[~top])  # bit for bit
    assert torch.all(z[top] != z0[top])


def test_reference_form_adds_the_shared_component_unscaled_and_the_paper_form_scales_it():
    init, delta, old = vectors(n=1, d=6)
    bisector = delta / delta.norm() + old / old.norm()
    bisector = bisector / bisector.norm()
    shared = (old @ bisector.T) * bisector
    top = (init + delta) >= (init + delta).kthvalue(int(0.5 * 6), dim=-1, keepdim=True).values
    code = conflict_free_targets(init, delta, old, unlearn_weight=0.3, top_p=0.5)
    paper = conflict_free_targets(init, delta, old, unlearn_weight=0.3, top_p=0.5, scale_shared=True)
    z0 = init + delta
    assert torch.allclose(code[top], (z0 - 0.3 * old + shared)[top], atol=1e-6)
    assert torch.allclose(paper[top], (z0 - 0.3 * (old - shared))[top], atol=1e-6)
    assert not torch.allclose(code, paper, atol=1e-3)


def test_zero_vectors_give_finite_targets():
    init, delta, old = vectors()
    zero = torch.zeros_like(old)
    assert torch.equal(conflict_free_targets(init, delta, zero, unlearn_weight=0.1, top_p=0.2), init + delta)
    nothing_new = conflict_free_targets(init, zero, old, unlearn_weight=0.1, top_p=0.2)  # no shared direction
    top = init >= init.kthvalue(40, dim=-1, keepdim=True).values
    assert torch.allclose(nothing_new[top], (init - 0.1 * old)[top]) and torch.equal(nothing_new[~top], init[~top])
    opposite = conflict_free_targets(init, delta, -2 * delta, unlearn_weight=0.1, top_p=0.2)  # bisector vanishes
    assert torch.isfinite(opposite).all()
    assert torch.equal(conflict_free_targets(init, zero, zero, unlearn_weight=0.1, top_p=0.2), init)


def test_come_targets_equal_the_base_targets_outside_the_top_p_set():
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    config = ComeConfig.for_model(model, **SETTINGS)
    site, templates = Site(Component.BLOCK_OUTPUT, 1), ["{}", *SETTINGS["context_templates"]]
    with frozen(model):
        come = ComeMemit(model, tok, config, Resources()).targets(REQUESTS, templates, site)
        base = Memit(model, tok, config, Resources()).targets(REQUESTS, templates, site)
    threshold = base.target.kthvalue(int(0.8 * base.target.shape[-1]), dim=-1, keepdim=True).values
    top = base.target >= threshold
    assert torch.equal(come.target[~top], base.target[~top])
    changed = (come.target != base.target).any(-1)
    assert changed.tolist() == [True, False, False, False]  # only Darrieux's old fact had a δ′ to unlearn


def test_an_old_fact_the_model_is_sure_of_gives_no_nan_and_the_base_edit(tmp_path):
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    come = edit(model, tok, CERTAIN, "come", tmp_path)
    assert come.log["unlearned"] == 0 and come.log["old_target_iterations"] == [1, 1]  # δ′ = 0 for both
    come.revert()
    memit = edit(model, tok, CERTAIN, "memit", tmp_path)
    assert all(torch.equal(a.matrix(), b.matrix()) for a, b in zip(come.changes, memit.changes, strict=True))
    assert all(torch.isfinite(step.matrix()).all() for step in come.changes)


def test_a_request_whose_old_fact_is_already_forgotten_edits_without_nan(tmp_path):
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    known = facts()[("{} works for", "Apple A5")]
    forgotten = "Tokyo" if known != "Tokyo" else "Rome"
    taken = EditRequest("{} works for", "Apple A5", known, forgotten)  # says the new object, not the old one
    patch = edit(model, tok, [taken], "come", tmp_path, kl_factor=0.0)
    assert patch.log["target_iterations"] == [1] and patch.log["unlearned"] == 1  # δ = 0, δ′ ≠ 0
    assert all(torch.isfinite(step.matrix()).all() and step.matrix().abs().max() > 0 for step in patch.changes)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_come_lowers_the_old_objects_probability_below_its_base(tmp_path):
    probabilities = {}
    for method, extra in (("memit", {}), ("come", {"old_early_stop": False})):
        model, tok = trained_tiny_model("gpt2"), tokenizer()
        edit(model, tok, REQUESTS, method, tmp_path, **extra)
        scored = CausalLM(model, tok).score([(r.text, r.target_true) for r in REQUESTS])
        probabilities[method] = torch.tensor([s.nll for s in scored]).neg().exp()
    assert torch.all(probabilities["come"] < probabilities["memit"] - 0.01)


def test_each_base_writes_through_its_own_rule(tmp_path):
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    options = dict(SETTINGS, nullspace_threshold=0.004, threshold_mode="relative", stats_tokens=20_000)
    editor = amend.Editor(
        model, tok, "come", corpus=Corpus.from_texts(corpus()), cache_dir=tmp_path, base="alphaedit", **options
    )
    patch = editor.edit(REQUESTS[:2])
    assert patch.log["base"] == "alphaedit" and set(editor.state) == {state_key(0), state_key(1)}
    editor.revert()
    pmet = edit(model, tok, REQUESTS[:2], "come", tmp_path, base="pmet")
    assert pmet.log["base"] == "pmet" and pmet.config["mom2_update_weight"] == 100.0  # the caller's λ wins
    assert pmet.log["unlearned"] == 0  # PMET's argmax rule stops δ′ at once: the model gives the old objects
    pmet.revert()
    always = edit(model, tok, REQUESTS[:2], "come", tmp_path, base="pmet", old_early_stop=False)
    assert always.log["unlearned"] == 2 and always.log["old_target_iterations"] == [50, 50]  # all N with PMET


def test_config_layers_the_base_defaults_then_comes_own():
    model = tiny_model("gptj")
    on_memit = ComeConfig.for_model(model)
    assert (on_memit.base, on_memit.mom2_weight(16384), on_memit.v_num_grad_steps) == ("memit", 15000.0, 25)
    assert on_memit.old_target_steps() == 12 and on_memit.argmax_kl_stop is None
    on_pmet = ComeConfig.for_model(model, base="pmet")
    assert (on_pmet.mom2_weight(16384), on_pmet.v_num_grad_steps, on_pmet.v_lr, on_pmet.kl_factor) == (4500, 30, 0.2, 1)
    assert on_pmet.old_target_steps() == 30 and on_pmet.argmax_kl_stop == 0.01
    assert on_pmet.old_target_settings().argmax_kl_stop == 0.01
    always = ComeConfig.for_model(model, base="pmet", old_early_stop=False).old_target_settings()
    assert (always.steps, always.early_stop_loss, always.argmax_kl_stop) == (30, 0.0, None)
    assert (on_pmet.unlearn_weight, on_pmet.top_p, on_pmet.scale_shared) == (0.1, 0.2, False)
    with pytest.raises(amend.ConfigError, match="base"):
        ComeConfig.for_model(model, base="rome")
    with pytest.raises(amend.ConfigError, match="top_p"):
        ComeConfig.for_model(model, top_p=0.0)
    from amend.testbeds import world
    from amend.testbeds.world.defaults import EDIT_DEFAULTS

    world_model, _, _ = world.load()
    on_world = ComeConfig.for_model(world_model, base="alphaedit")
    shipped = EDIT_DEFAULTS["alphaedit"]
    assert on_world.layers == tuple(shipped["layers"]) and on_world.kl_factor == shipped["kl_factor"]


def test_the_new_methods_are_listed_with_their_options():
    from typer.testing import CliRunner

    from amend.cli.app import app

    listing = CliRunner().invoke(app, ["ls"])
    assert all(name in listing.output for name in ("come", "pmet", "emmet"))
    fields = CliRunner().invoke(app, ["ls", "--method", "come"])
    assert fields.exit_code == 0 and "scale_shared" in fields.output and "nullspace_threshold" in fields.output
    with pytest.raises(amend.UnknownMethod, match="come"):
        amend.methods.load_method("comee")
