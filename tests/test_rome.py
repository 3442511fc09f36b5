import pytest
import torch
from helpers import ROME_TEST_SETTINGS, corpus, edit_request, tokenizer, trained_tiny_model

import amend
from amend import EditFailed, RecordError
from amend.architectures import Component, Site, anatomy, weights
from amend.hooks import capture, token_index
from amend.methods.base import frozen
from amend.methods.locate import solve
from amend.methods.locate.keys import subject_keys
from amend.methods.locate.target import optimise_targets
from amend.methods.locate.templates import ContextTemplates
from amend.methods.rome.config import RomeConfig
from amend.methods.rome.method import rank_one_update
from amend.stats import Corpus
from amend.tokens import encode, target_ids

ARCHS = [("gpt2", False), ("llama", True)]
REQUESTS = [
    edit_request("The mother tongue of {} is", "Danielle Darrieux"),
    edit_request("{} works for", "Apple A5"),
]


@pytest.fixture(params=ARCHS, ids=[a for a, _ in ARCHS])
def setup(request, tmp_path):
    model_type, bos = request.param
    return trained_tiny_model(model_type, bos), tokenizer(bos), tmp_path


def run_rome(model, tok, cache, requests=REQUESTS, **overrides):
    settings = {**ROME_TEST_SETTINGS, **overrides}
    return amend.edit(model, tok, requests, "rome", corpus=Corpus.from_texts(corpus()), cache_dir=cache, **settings)


def snapshot(model):
    return {name: value.clone() for name, value in model.state_dict().items()}


def next_token(model, tok, request):
    prompt, target = target_ids(tok, request.text, request.target_new)
    with torch.no_grad():
        probs = model(torch.tensor([prompt])).logits[0, -1].softmax(-1)
    return float(probs[target[0]]), int(probs.argmax()) == target[0]


def v_star(model, tok, request):
    """The target vector ROME optimises, computed independently (the optimisation is deterministic)."""
    config = RomeConfig.for_model(model, **ROME_TEST_SETTINGS)
    templates = ContextTemplates.with_prefixes(config.context_templates).flat()
    site = Site(Component.MLP_OUTPUT, config.layer)
    with frozen(model):
        return optimise_targets(anatomy(model), tok, [request], templates, site, config.target_settings()).target[0]


@pytest.mark.parametrize("key_mode", ["original", "consistent"])
def test_update_writes_v_star_at_the_key_with_a_rank_one_delta(setup, key_mode):
    model, tok, cache = setup
    request = REQUESTS[0]
    target = v_star(model, tok, request)
    body = anatomy(model)
    module = body.module(body.mlp_out_proj_name(0))
    templates = ContextTemplates.with_prefixes(ROME_TEST_SETTINGS["context_templates"])
    mean_key = subject_keys(body, tok, [request], templates, 0, average="flat")[0]
    before = weights.weight_out_in(module).detach().clone()
    patch = run_rome(model, tok, cache, [request], key_mode=key_mode)
    delta = weights.weight_out_in(module).detach() - before
    assert torch.linalg.matrix_rank(delta.double(), rtol=1e-5) == 1
    assert torch.allclose(delta, patch.changes[0].matrix(), atol=1e-6)
    if key_mode == "original":  # the bare prompt's key: read the edited MLP output there
        site = Site(Component.MLP_OUTPUT, 0)
        position = torch.tensor([token_index(tok, request.prompt, request.subject, "subject_last")])
        with capture(body, [site], position) as records, torch.no_grad():
            model(input_ids=torch.tensor([encode(tok, request.text)]))
        written = records[site][0]
    else:  # the template-averaged key
        written = weights.apply_map(module, mean_key[None])[0]
    assert ((written - target).norm() / target.norm()) < 1e-4


def test_edit_makes_the_new_target_the_argmax_and_revert_is_bit_exact(setup):
    model, tok, cache = setup
    original = snapshot(model)
    before = [next_token(model, tok, r) for r in REQUESTS]
    patch = run_rome(model, tok, cache)
    after = [next_token(model, tok, r) for r in REQUESTS]
    for (p_before, top_before), (p_after, top_after) in zip(before, after, strict=True):
        assert not top_before and top_after and p_after > p_before
    assert patch.modules == [anatomy(model).mlp_out_proj_name(0)] and len(patch.changes) == 2
    patch.revert()
    assert all(torch.equal(original[k], v) for k, v in model.state_dict().items())


def test_a_request_without_its_subject_is_refused_naming_the_field(setup):
    model, tok, _ = setup
    original = snapshot(model)
    bad = {"prompt": "The capital of France is", "subject": "Germany", "target_new": "Rome"}
    with pytest.raises(RecordError, match="field 'subject'") as caught:
        amend.edit(model, tok, [REQUESTS[0].to_dict(), bad], "rome")
    assert caught.value.record_id == 1
    assert all(torch.equal(original[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("failure", ["nan", "exception"])
def test_a_failure_mid_edit_leaves_every_parameter_bit_identical(setup, monkeypatch, failure):
    model, tok, cache = setup
    original = snapshot(model)
    import amend.methods.rome.method as rome_method

    calls = []

    def flaky(*args, **kwargs):
        result = optimise_targets(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:  # the first request is already written when the second one fails
            if failure == "exception":
                raise RuntimeError("device lost")
            result.delta[0, 3] = float("nan")
        return result

    monkeypatch.setattr(rome_method, "optimise_targets", flaky)
    with pytest.raises(EditFailed):
        run_rome(model, tok, cache)
    assert len(calls) == 2
    assert all(torch.equal(original[k], v) for k, v in model.state_dict().items())


def test_without_mom2_adjustment_the_direction_is_the_mean_key(setup):
    model, tok, cache = setup
    request = REQUESTS[0]
    templates = ContextTemplates.with_prefixes(ROME_TEST_SETTINGS["context_templates"])
    mean_key = subject_keys(anatomy(model), tok, [request], templates, 0, average="flat")[0]
    patch = run_rome(model, tok, cache, [request], mom2_adjustment=False)
    u = patch.changes[0].right[0]
    assert torch.allclose(u, mean_key / mean_key.norm(), atol=1e-6)


def test_rank_one_update_leaves_keys_orthogonal_to_its_direction_unchanged():
    torch.manual_seed(0)
    module = torch.nn.Linear(6, 4)
    a = torch.randn(6, 6, dtype=torch.float64)
    cov = a @ a.T + torch.eye(6, dtype=torch.float64)
    mean_key, key, target = torch.randn(6), torch.randn(6), torch.randn(4)
    left, right = rank_one_update(module, mean_key, key, target, cov)
    delta = (left @ right).double()
    direction = torch.linalg.solve(cov, mean_key.double())
    other = torch.randn(6, dtype=torch.float64)
    other -= (other @ direction) / (direction @ direction) * direction  # (C⁻¹k̄)·k = 0
    assert torch.allclose(delta @ other, torch.zeros(4, dtype=torch.float64), atol=1e-5)
    written = weights.apply_map(module, key[None].double())[0] + delta @ key.double()
    assert torch.allclose(written, target.double(), atol=1e-5)


def test_config_defaults_and_overrides(setup):
    model, _, _ = setup
    config = RomeConfig.for_model(model)
    assert config.mom2_adjustment and config.key_mode == "original"
    assert 0 <= config.layer < model.config.num_hidden_layers
    assert RomeConfig.for_model(model, layer=2).layer == 2
    with pytest.raises(amend.ConfigError, match=r"no field.*'layr': did you mean 'layer'"):
        RomeConfig.for_model(model, layr=2)
    with pytest.raises(amend.ConfigError, match="key_mode"):
        RomeConfig.for_model(model, key_mode="mixed")
    assert all(text for text in RomeConfig.help().values())  # every field documented


def test_the_covariance_is_factored_once_per_editor_whatever_the_number_of_edits(tmp_path, monkeypatch):
    made = []
    real = solve.Factored.__init__

    def counted(self, matrix):
        made.append(matrix.shape)
        real(self, matrix)

    monkeypatch.setattr(solve.Factored, "__init__", counted)
    model = trained_tiny_model("gpt2")
    editor = amend.Editor(model, tokenizer(), "rome", corpus=corpus(), cache_dir=tmp_path, **ROME_TEST_SETTINGS)
    editor.edit([edit_request("{} works for", "Apple A5"), edit_request("{} plays the", "Toko Yasuda")])
    editor.edit(edit_request("The mother tongue of {} is", "Danielle Darrieux"))
    assert len(made) == 1
