import pytest
import torch
from helpers import BATCH_TEST_SETTINGS, batch_test_requests, corpus, tokenizer, trained_tiny_model

import amend
from amend.architectures import Component, Site, anatomy
from amend.methods.base import Resources, frozen
from amend.methods.locate.keys import bare_values
from amend.methods.locate.solve import Factored
from amend.methods.locate.target import optimise_targets
from amend.methods.memit.config import MemitConfig, scaled_layers
from amend.methods.memit.method import Memit
from amend.stats import Corpus

REQUESTS = batch_test_requests()
SETTINGS = BATCH_TEST_SETTINGS


@pytest.mark.parametrize(("mode", "weight"), [("absolute", 7.0), ("relative", 7.0 * 12)])
def test_update_satisfies_the_normal_equation(mode, weight):
    torch.manual_seed(0)
    d_in, d_out, n = 12, 5, 3
    a = torch.randn(d_in, d_in, dtype=torch.float64)
    method = Memit.__new__(Memit)  # the rule alone, without a model
    method.config = MemitConfig(layers=(0,), mom2_update_weight=7.0, lambda_mode=mode)
    method.covariances, method.log, method.resources = {0: a @ a.T / d_in}, {}, Resources()
    keys, residual = torch.randn(n, d_in, dtype=torch.float64), torch.randn(n, d_out, dtype=torch.float64)
    left, right = method.layer_update(0, keys, residual)
    delta = left @ right
    system = weight * method.covariances[0] + keys.T @ keys  # relative: λ = 7 × d_in
    assert torch.allclose(delta @ system, residual.T @ keys, atol=1e-9) and method.log["lambda"] == weight


def test_relative_lambda_is_the_reference_on_the_reference_model_and_a_lambda_alone_is_absolute():
    llama = type("C", (), {"model_type": "llama", "num_hidden_layers": 32})
    reference = MemitConfig.from_dict({**MemitConfig.architecture_defaults(llama)})
    assert reference.lambda_mode == "relative" and reference.mom2_weight(14336) == pytest.approx(15000.0, rel=1e-12)
    assert reference.mom2_weight(1536) == pytest.approx(15000.0 * 1536 / 14336, rel=1e-12)  # SmolLM2's MLP width
    other = type("C", (), {"model_type": "qwen2", "num_hidden_layers": 24})
    assert MemitConfig.architecture_defaults(other)["lambda_mode"] == "relative"  # the "*" row: any architecture
    model = trained_tiny_model("gpt2")
    given = MemitConfig.for_model(model, mom2_update_weight=500.0)
    assert (given.lambda_mode, given.mom2_weight(1000)) == ("absolute", 500.0)  # no unit: absolute, as the originals
    both = MemitConfig.for_model(model, mom2_update_weight=2.0, lambda_mode="relative")
    assert both.mom2_weight(1000) == 2000.0
    with pytest.raises(amend.ConfigError, match="lambda_mode"):
        MemitConfig(layers=(0,), lambda_mode="per-dim")


@pytest.mark.parametrize(("model_type", "bos"), [("gpt2", False), ("llama", True)])
def test_the_last_layer_reaches_z_when_the_covariance_weight_vanishes(model_type, bos, tmp_path):
    model, tok = trained_tiny_model(model_type, bos), tokenizer(bos)
    settings = dict(SETTINGS, layers=(1,), mom2_update_weight=1e-6, context_templates=())
    config = MemitConfig.for_model(model, **settings)
    body, site = anatomy(model), Site(Component.BLOCK_OUTPUT, 1)
    with frozen(model):
        z = optimise_targets(body, tok, REQUESTS, ["{}"], site, config.target_settings()).target
    amend.edit(model, tok, REQUESTS, "memit", corpus=Corpus.from_texts(corpus()), cache_dir=tmp_path, **settings)
    reached = bare_values(body, tok, REQUESTS, site, rule="subject_last")
    assert torch.allclose(reached, z, rtol=1e-3, atol=1e-3)


def test_batch_edit_flips_the_facts_and_reverts_bit_exactly(tmp_path):
    # GPT-2 only: the tiny trained Llama does not look its facts up at the subject, so no z at the residual stream
    # of its early layers reaches the targets (the knowledge-world model is the testbed for that).
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    original = {k: v.clone() for k, v in model.state_dict().items()}
    patch = amend.edit(
        model, tok, REQUESTS, "memit", corpus=Corpus.from_texts(corpus()), cache_dir=tmp_path, **SETTINGS
    )
    flipped = 0
    for request in REQUESTS:
        prompt, target = amend.tokens.target_ids(tok, request.text, request.target_new)
        with torch.no_grad():
            flipped += int(model(torch.tensor([prompt])).logits[0, -1].argmax() == target[0])
    assert flipped >= 2
    assert [s.rank for s in patch.changes] == [3, 3] and len(patch.modules) == 2
    patch.revert()
    assert all(torch.equal(original[k], v) for k, v in model.state_dict().items())


def test_default_layers_scale_with_depth():
    config = type("C", (), {"model_type": "gpt2", "num_hidden_layers": 48})
    assert scaled_layers(config) == (13, 14, 15, 16, 17)
    config.num_hidden_layers = 12
    assert scaled_layers(config) == (3, 4)
    assert MemitConfig.for_model(trained_tiny_model("llama", True)).layers
    with pytest.raises(amend.ConfigError, match="repeat"):
        MemitConfig(layers=(1, 1))


def test_an_edit_that_writes_almost_nothing_warns_naming_the_requests(tmp_path):
    """A λ far too large for the model (as the reference 15,000 is for a 1,536-wide MLP) makes MEMIT a near no-op:
    the fraction of the way to each target is logged, and a warning names the requests below the threshold."""
    from amend.methods.locate.batch import WeakEditWarning

    model, tok = trained_tiny_model("gpt2"), tokenizer()
    options = dict(corpus=Corpus.from_texts(corpus()), cache_dir=tmp_path)
    with pytest.warns(WeakEditWarning, match=r"wrote less than 50% of the target of 3 of 3 request"):
        weak = amend.edit(model, tok, REQUESTS, "memit", **options, **{**SETTINGS, "mom2_update_weight": 1e9})
    assert max(weak.log["written_fraction"]) < 0.01
    weak.revert()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", WeakEditWarning)
        usual = amend.edit(model, tok, REQUESTS, "memit", **options, **SETTINGS)
    assert min(usual.log["written_fraction"]) > 0.5
    usual.revert()


def test_a_factored_covariance_solves_as_the_full_system_and_falls_back_when_singular():
    """ROME's C⁻¹k and MEMIT's (λC + KKᵀ)⁻¹K through one Cholesky factor (Woodbury for MEMIT) equal the direct
    float64 solves; a rank-deficient C (no factor) takes the direct solve."""
    torch.manual_seed(1)
    d, n = 20, 4
    a = torch.randn(d, d, dtype=torch.float64)
    cov, keys = a @ a.T / d, torch.randn(d, n, dtype=torch.float64)
    factored = Factored(cov)
    assert factored.factor is not None
    assert torch.allclose(factored.solve(keys[:, 0]), torch.linalg.solve(cov, keys[:, 0]), rtol=1e-9, atol=1e-12)
    direct = torch.linalg.solve(7.0 * cov + keys @ keys.T, keys)
    assert torch.allclose(factored.solve_with_update(7.0, keys), direct, rtol=1e-9, atol=1e-12)
    low_rank = a[:, :5] @ a[:, :5].T
    singular = Factored(low_rank)
    assert singular.factor is None
    system = 7.0 * low_rank + keys @ keys.T + torch.eye(d, dtype=torch.float64)
    assert torch.allclose(
        Factored(system - keys @ keys.T).solve_with_update(1.0, keys), torch.linalg.solve(system, keys), rtol=1e-8
    )
