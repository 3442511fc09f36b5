"""EMMET: the equality-constrained batch update, its regulariser and its pseudo-inverse fallback (spec §4)."""

import pytest
import torch
from helpers import corpus, edit_request, tokenizer, trained_tiny_model

import amend
from amend.architectures import Component, Site, anatomy, weights
from amend.methods.base import Resources, frozen
from amend.methods.emmet.config import EmmetConfig
from amend.methods.emmet.method import Emmet
from amend.methods.locate.keys import bare_keys, bare_values
from amend.methods.locate.target import optimise_targets
from amend.stats import Corpus

REQUESTS = [
    edit_request("The mother tongue of {} is", "Danielle Darrieux"),
    edit_request("{} works for", "Apple A5"),
    edit_request("{} plays the", "Toko Yasuda"),
]
SETTINGS = dict(
    layers=(1,),
    v_lr=0.5,
    clamp_norm_factor=10.0,
    v_num_grad_steps=30,
    context_templates=(),
    mom2_update_weight=100.0,
    emmet_lambda=0.0,
)


def rule(emmet_lambda, update_norm_lambda=0.0, d_in=12, seed=0):
    """The update rule alone, on a random covariance."""
    torch.manual_seed(seed)
    a = torch.randn(d_in, d_in, dtype=torch.float64)
    method = Emmet.__new__(Emmet)
    method.config = EmmetConfig(
        layers=(0,), mom2_update_weight=7.0, emmet_lambda=emmet_lambda, update_norm_lambda=update_norm_lambda
    )
    method.covariances = {0: a @ a.T / d_in}
    method.log = {}
    method.resources = Resources()
    return method


def test_update_satisfies_the_equality_constraint():
    method = rule(emmet_lambda=0.0)
    d_in, d_out, n = 12, 5, 4
    w = torch.randn(d_out, d_in, dtype=torch.float64)
    keys = torch.randn(n, d_in, dtype=torch.float64)
    values = torch.randn(n, d_out, dtype=torch.float64)  # what each key must now be mapped to
    left, right = method.layer_update(0, keys, values - keys @ w.T)
    assert torch.allclose((w + left @ right) @ keys.T, values.T, atol=1e-9)  # (W + Δ)K = V
    assert "pseudo_inverse_layers" not in method.log


@pytest.mark.parametrize(("emmet_lambda", "update_norm_lambda"), [(0.1, 0.0), (0.5, 3.0)])
def test_the_regularised_update_misses_the_constraint_by_exactly_epsilon_d_inverse(emmet_lambda, update_norm_lambda):
    method = rule(emmet_lambda, update_norm_lambda)
    keys, residual = torch.randn(4, 12, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    left, right = method.layer_update(0, keys, residual)
    k = keys.T
    preserved = 7.0 * method.covariances[0] + update_norm_lambda * torch.eye(12, dtype=torch.float64)
    d = k.T @ torch.linalg.solve(preserved, k) + emmet_lambda * torch.eye(4, dtype=torch.float64)
    expected = residual.T @ (torch.eye(4, dtype=torch.float64) - emmet_lambda * torch.linalg.inv(d))
    assert torch.allclose(left @ right @ k, expected, atol=1e-9)  # ΔK = R (I − ε D⁻¹)
    assert not torch.allclose(left @ right @ k, residual.T, atol=1e-3)


def test_a_repeated_key_falls_back_to_the_pseudo_inverse_and_still_meets_the_constraints():
    method = rule(emmet_lambda=0.0)
    keys, residual = torch.randn(3, 12, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    keys, residual = torch.cat([keys, keys[:1]]), torch.cat([residual, residual[:1]])  # the same request twice
    left, right = method.layer_update(0, keys, residual)
    assert method.log["pseudo_inverse_layers"] == [0]
    assert torch.isfinite(right).all()
    assert torch.allclose(left @ right @ keys.T, residual.T, atol=1e-8)


@pytest.mark.parametrize(("model_type", "bos"), [("gpt2", False), ("llama", True)])
def test_the_edited_layer_maps_the_keys_to_their_values(model_type, bos, tmp_path):
    model, tok = trained_tiny_model(model_type, bos), tokenizer(bos)
    body = anatomy(model)
    site = Site(Component.BLOCK_OUTPUT, 1)
    config = EmmetConfig.for_model(model, **SETTINGS)
    with frozen(model):
        z = optimise_targets(body, tok, REQUESTS, ["{}"], site, config.target_settings()).target
    keys = bare_keys(body, tok, REQUESTS, 1, rule="subject_last").double()
    module = body.module(body.mlp_out_proj_name(1))
    w = weights.weight_out_in(module).double().clone()
    values = keys @ w.T + (z - bare_values(body, tok, REQUESTS, site, rule="subject_last")).double()
    amend.edit(model, tok, REQUESTS, "emmet", corpus=Corpus.from_texts(corpus()), cache_dir=tmp_path, **SETTINGS)
    edited = weights.weight_out_in(module).double()
    assert torch.allclose(keys @ edited.T, values, rtol=1e-4, atol=1e-4)  # (W + Δ)K = V
    assert torch.allclose(bare_values(body, tok, REQUESTS, site, rule="subject_last"), z, rtol=1e-3, atol=1e-3)


def test_defaults_follow_the_reference_configs_and_the_world_model_reuses_memit_settings():
    config = type("C", (), {"model_type": "gpt2", "num_hidden_layers": 48})
    assert EmmetConfig.architecture_defaults(config) == {
        "mom2_update_weight": 10_000.0 / 6400,
        "lambda_mode": "relative",
        "v_num_grad_steps": 20,
        "layers": (17,),
    }
    assert EmmetConfig.from_dict(EmmetConfig.architecture_defaults(config)).mom2_weight(6400) == 10_000.0  # GPT-2 XL
    config.model_type, config.num_hidden_layers = "gptj", 28
    assert EmmetConfig.architecture_defaults(config)["layers"] == (5,)
    emmet = EmmetConfig.for_model(trained_tiny_model("gpt2"))
    assert (emmet.emmet_lambda, emmet.update_norm_lambda, len(emmet.layers)) == (0.1, 0.0, 1)
    from amend.testbeds import world
    from amend.testbeds.world.defaults import EDIT_DEFAULTS

    model, _, _ = world.load()
    memit = EDIT_DEFAULTS["memit"]
    on_world = EmmetConfig.for_model(model)
    assert on_world.layers == tuple(memit["layers"]) and on_world.mom2_update_weight == memit["mom2_update_weight"]
    assert on_world.lambda_mode == "absolute"  # the world gives λ alone: absolute, not the architecture's unit
    with pytest.raises(amend.ConfigError, match="negative"):
        EmmetConfig(layers=(1,), emmet_lambda=-1.0)
