"""PMET: joint attention/MLP targets, only MLP weights written, the √ residual split (spec §4)."""

import math

import pytest
import torch
from helpers import BATCH_TEST_SETTINGS, batch_test_requests, corpus, facts, tokenizer, trained_tiny_model

import amend
from amend import EditRequest
from amend.architectures import Component, Site, anatomy
from amend.methods.base import frozen
from amend.methods.locate.keys import bare_values
from amend.methods.locate.target import TargetSettings, optimise_targets
from amend.methods.pmet.config import PmetConfig
from amend.stats import Corpus

REQUESTS = batch_test_requests()
SETTINGS = {**BATCH_TEST_SETTINGS, "v_num_grad_steps": 30}


def pmet_targets(model, tok, settings, templates=("{}",)):
    """z_mlp and z_attn of the unedited model, as PMET's joint optimisation gives them."""
    config = PmetConfig.for_model(model, **settings)
    mlp, attn = Site(Component.MLP_OUTPUT, max(config.layers)), Site(Component.ATTN_OUTPUT, max(config.layers))
    with frozen(model):
        return optimise_targets(anatomy(model), tok, REQUESTS, list(templates), [mlp, attn], config.target_settings())


def edit(model, tok, tmp_path, **settings):
    options = {**SETTINGS, **settings}
    return amend.edit(model, tok, REQUESTS, "pmet", corpus=Corpus.from_texts(corpus()), cache_dir=tmp_path, **options)


@pytest.mark.parametrize(("model_type", "bos"), [("gpt2", False), ("llama", True)])
def test_only_the_mlp_output_projections_are_written(model_type, bos, tmp_path):
    model, tok = trained_tiny_model(model_type, bos), tokenizer(bos)
    original = {k: v.clone() for k, v in model.state_dict().items()}
    patch = edit(model, tok, tmp_path)
    body = anatomy(model)
    written = {f"{body.mlp_out_proj_name(layer)}.weight" for layer in (0, 1)}
    changed = {k for k, v in model.state_dict().items() if not torch.equal(original[k], v)}
    assert changed == written
    assert set(patch.modules) == {body.mlp_out_proj_name(layer) for layer in (0, 1)}


@pytest.mark.parametrize(("model_type", "bos"), [("gpt2", False), ("llama", True)])
def test_the_mlp_output_reaches_its_target_when_the_covariance_weight_vanishes(model_type, bos, tmp_path):
    model, tok = trained_tiny_model(model_type, bos), tokenizer(bos)
    settings = dict(layers=(1,), mom2_update_weight=1e-6, context_templates=())
    targets = pmet_targets(model, tok, {**SETTINGS, **settings})
    edit(model, tok, tmp_path, **settings)
    reached = bare_values(anatomy(model), tok, REQUESTS, Site(Component.MLP_OUTPUT, 1), rule="subject_last")
    assert torch.allclose(reached, targets.target, rtol=1e-3, atol=1e-3)
    assert not torch.allclose(reached, targets.init, atol=1e-2)  # it moved


def test_the_first_of_two_layers_takes_the_residual_over_root_two(tmp_path):
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    settings = dict(context_templates=())
    z = pmet_targets(model, tok, {**SETTINGS, **settings}).target
    current = bare_values(anatomy(model), tok, REQUESTS, Site(Component.MLP_OUTPUT, 1), rule="subject_last")
    patch = edit(model, tok, tmp_path, **settings)
    first = patch.changes[0].left.T  # (n, d_out): the residual share written at layer 0
    assert torch.allclose(first, (z - current) / math.sqrt(2), atol=1e-5)
    assert not torch.allclose(first, (z - current) / 2, atol=1e-3)  # not MEMIT's even split


def test_each_site_is_clamped_to_its_own_initial_norm():
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    body = anatomy(model)
    mlp, attn = Site(Component.MLP_OUTPUT, 1), Site(Component.ATTN_OUTPUT, 1)
    settings = TargetSettings(steps=20, lr=0.5, clamp_norm_factor=0.3, kl_factor=0.0)
    with frozen(model):
        result = optimise_targets(body, tok, REQUESTS, ["{}"], [mlp, attn], settings)
    attn_init = bare_values(body, tok, REQUESTS, attn, rule="subject_last")
    mlp_ratio = result.delta.norm(dim=-1) / result.init.norm(dim=-1)
    attn_ratio = (result.joint[attn] - attn_init).norm(dim=-1) / attn_init.norm(dim=-1)
    assert torch.all(mlp_ratio <= 0.3 + 1e-5) and torch.all(attn_ratio <= 0.3 + 1e-5)
    assert mlp_ratio.max() > 0.29 and attn_ratio.max() > 0.29  # both clamps bind: each δ moved to its own limit
    assert set(result.joint) == {attn}


def test_a_target_already_the_argmax_stops_once_the_kl_is_small():
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    body = anatomy(model)
    known = facts()[("{} works for", "Apple A5")]
    other = "Rome" if known == "Paris" else "Paris"
    request = EditRequest("{} works for", "Apple A5", known, other)  # the model already says the "new" object
    sites = [Site(Component.MLP_OUTPUT, 1), Site(Component.ATTN_OUTPUT, 1)]
    plain = TargetSettings(steps=6, early_stop_loss=0.0, kl_factor=1.0)  # the loss rule can never stop it
    with frozen(model):
        full = optimise_targets(body, tok, [request], ["{}"], sites, plain)
        pmet_rule = TargetSettings(steps=6, early_stop_loss=0.0, kl_factor=1.0, argmax_kl_stop=0.01)
        stopped = optimise_targets(body, tok, [request], ["{}"], sites, pmet_rule)
    assert full.iterations == [6] and stopped.iterations == [1]
    assert torch.count_nonzero(stopped.delta) == 0


def test_defaults_are_the_reference_and_the_world_model_reuses_memit_settings():
    config = PmetConfig.for_model(trained_tiny_model("gpt2"))
    assert (config.mom2_weight(16384), config.v_num_grad_steps, config.v_lr, config.kl_factor) == (6000, 30, 0.2, 1)
    assert (config.argmax_nll_factor, config.argmax_kl_stop) == (0.1, 0.01)
    from amend.testbeds import world
    from amend.testbeds.world.defaults import EDIT_DEFAULTS

    model, _, _ = world.load()
    on_world = PmetConfig.for_model(model)
    memit = EDIT_DEFAULTS["memit"]
    assert on_world.layers == tuple(memit["layers"]) and on_world.mom2_update_weight == memit["mom2_update_weight"]
    assert PmetConfig.for_model(model, mom2_update_weight=5.0).mom2_weight(512) == 5.0
