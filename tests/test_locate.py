"""The pieces ROME and the MEMIT family share: templates, keys, target-vector optimisation."""

from dataclasses import replace

import pytest
import torch
from helpers import TINY_CONFIGS, tiny_model, tokenizer

from amend import EditRequest
from amend.architectures import Component, Site, anatomy
from amend.errors import ConfigError
from amend.forward import lens_logits
from amend.hooks import capture, token_index
from amend.hooks.resume import resume_at
from amend.methods.locate.keys import subject_keys
from amend.methods.locate.suffix import SuffixForward
from amend.methods.locate.target import TargetSettings, optimise_targets
from amend.methods.locate.templates import ContextTemplates, sample_context_templates
from amend.methods.rome.config import RomeConfig
from amend.requests import fill
from amend.tokens import encode

REQUESTS = [
    EditRequest("The mother tongue of {} is", "Danielle Darrieux", "English", "French"),
    EditRequest("{} plays the", "Toko Yasuda", "piano", "guitar"),
    EditRequest("{} is located in", "Autonomous University of Madrid", "Tokyo", "Spain"),
]


def test_templates_are_seeded_and_shaped():
    model, tok = tiny_model("gpt2"), tokenizer()
    first = sample_context_templates(model, tok, [(2, 4), (3, 6)], ["The", "Because"], seed=3)
    assert first == sample_context_templates(model, tok, [(2, 4), (3, 6)], ["The", "Because"], seed=3)
    assert first != sample_context_templates(model, tok, [(2, 4), (3, 6)], ["The", "Because"], seed=4)
    assert first.group_sizes() == [1, 10]
    assert all(t.endswith(". {}") and "{}" not in t[:-2] for t in first.flat()[1:])
    with pytest.raises(ValueError, match="exactly one"):
        ContextTemplates.with_prefixes(["no placeholder"])


def _key(body, tok, template, request, layer):
    slot = fill(template, request.prompt)
    ids = torch.tensor([encode(tok, fill(slot, request.subject))])
    position = torch.tensor([token_index(tok, slot, request.subject, "subject_last")])
    site = Site(Component.MLP_KEY, layer)
    with capture(body, [site], position) as records, torch.no_grad():
        body.model(input_ids=ids)
    return records[site][0]


@pytest.mark.parametrize("bos", [False, True])
def test_key_averages_match_hand_computed_means(bos):
    body, tok = anatomy(tiny_model("llama" if bos else "gpt2")), tokenizer(bos)
    templates = ContextTemplates.with_prefixes(["Rain fell. {}", "I said. {}", "You know that {}"])
    flat = subject_keys(body, tok, REQUESTS, templates, 1, average="flat")
    grouped = subject_keys(body, tok, REQUESTS, templates, 1, average="grouped")
    for i, request in enumerate(REQUESTS):
        per_template = torch.stack([_key(body, tok, t, request, 1) for t in templates.flat()])
        assert torch.allclose(flat[i], per_template.mean(0), atol=1e-5)
        two_level = 0.5 * per_template[0] + 0.5 * per_template[1:].mean(0)  # the bare prompt weighs 1/2
        assert torch.allclose(grouped[i], two_level, atol=1e-5)


SEVERAL_KL_PROMPTS = {"kl_prompts": ("{} was born in", "The work of {} is"), "kl_position": "last", "kl_factor": 0.5}


@pytest.mark.parametrize("kl", [{}, SEVERAL_KL_PROMPTS], ids=["essence", "several-at-last"])
def test_batched_optimisation_equals_one_request_at_a_time(kl):
    body, tok = anatomy(tiny_model("llama")), tokenizer(True)
    site = Site(Component.BLOCK_OUTPUT, 1)
    settings = TargetSettings(steps=8, lr=0.3, clamp_norm_factor=0.75, **kl)
    templates = ["{}", "Rain fell. {}"]
    for param in body.model.parameters():
        param.requires_grad_(False)
    together = optimise_targets(body, tok, REQUESTS, templates, site, settings)
    assert together.forward_passes <= settings.steps  # one batched forward per step, not one per request
    for i, request in enumerate(REQUESTS):
        alone = optimise_targets(body, tok, [request], templates, site, settings)
        assert torch.allclose(together.init[i], alone.init[0], atol=1e-5)
        assert torch.allclose(together.delta[i], alone.delta[0], atol=1e-4, rtol=1e-3)
        assert together.iterations[i] == alone.iterations[0]


def test_requests_in_groups_equal_one_pass():
    body, tok = anatomy(tiny_model("gpt2")), tokenizer(False)
    site = Site(Component.BLOCK_OUTPUT, 1)
    settings = TargetSettings(steps=6, lr=0.3, clamp_norm_factor=0.75)
    for param in body.model.parameters():
        param.requires_grad_(False)
    one_pass = optimise_targets(body, tok, REQUESTS, ["{}"], site, replace(settings, requests_per_pass=len(REQUESTS)))
    grouped = optimise_targets(body, tok, REQUESTS, ["{}"], site, replace(settings, requests_per_pass=2))
    assert len(REQUESTS) > 2 and grouped.delta.shape == one_pass.delta.shape
    assert torch.allclose(grouped.init, one_pass.init, atol=1e-5)
    assert torch.allclose(grouped.delta, one_pass.delta, atol=1e-4, rtol=1e-3)
    assert grouped.iterations == one_pass.iterations
    assert grouped.forward_passes > one_pass.forward_passes  # each group runs its own passes


def test_optimisation_lowers_the_loss_and_respects_the_clamp():
    body, tok = anatomy(tiny_model("llama")), tokenizer(True)
    site = Site(Component.MLP_OUTPUT, 0)
    for param in body.model.parameters():
        param.requires_grad_(False)
    short = optimise_targets(body, tok, REQUESTS, ["{}"], site, TargetSettings(steps=1, kl_factor=0.0))
    long = optimise_targets(body, tok, REQUESTS, ["{}"], site, TargetSettings(steps=40, kl_factor=0.0))
    assert all(b < a for a, b in zip(short.losses, long.losses, strict=True))
    assert short.backward_passes == 0 and torch.count_nonzero(short.delta) == 0  # at most N-1 steps
    norms, limits = long.delta.norm(dim=-1), 4.0 * long.init.norm(dim=-1)
    assert torch.all(norms <= limits * (1 + 1e-5))


def test_early_stop_freezes_a_converged_request():
    body, tok = anatomy(tiny_model("llama")), tokenizer(True)
    for param in body.model.parameters():
        param.requires_grad_(False)
    settings = TargetSettings(steps=30, early_stop_loss=1e9)  # every loss is below: stop at iteration 0
    result = optimise_targets(body, tok, REQUESTS, ["{}"], Site(Component.MLP_OUTPUT, 0), settings)
    assert result.iterations == [1, 1, 1] and result.forward_passes == 1


def _frozen_tiny():
    body, tok = anatomy(tiny_model("gpt2")), tokenizer(False)
    for param in body.model.parameters():
        param.requires_grad_(False)
    return body, tok


def test_the_kl_term_is_a_mean_over_the_kl_prompts():
    """A prompt given twice weighs as much as given once; a second, different prompt changes the vectors."""
    body, tok = _frozen_tiny()
    site = Site(Component.MLP_OUTPUT, 0)
    settings = TargetSettings(steps=6, lr=0.3, kl_position="last", kl_factor=5.0, kl_prompts=("{} was born in",))
    once = optimise_targets(body, tok, REQUESTS, ["{}"], site, settings)
    twice = optimise_targets(body, tok, REQUESTS, ["{}"], site, replace(settings, kl_prompts=("{} was born in",) * 2))
    other = optimise_targets(
        body, tok, REQUESTS, ["{}"], site, replace(settings, kl_prompts=("{} was born in", "The work of {} is"))
    )
    assert torch.allclose(once.delta, twice.delta, atol=1e-5)
    assert not torch.allclose(once.delta, other.delta, atol=1e-3)


@pytest.mark.parametrize("bad", [{"kl_position": "end"}, {"kl_prompts": ()}, {"kl_prompts": ("no subject slot",)}])
def test_kl_settings_are_checked_when_the_config_is_made(bad):
    with pytest.raises(ConfigError, match="kl_p"):
        RomeConfig(layer=0, **bad)


def test_sampled_templates_are_sampled_once_per_model_and_setting_and_cached_on_disk(tmp_path, monkeypatch):
    from helpers import ROME_TEST_SETTINGS, corpus, edit_request, tokenizer, trained_tiny_model

    import amend
    import amend.methods.locate.common as common
    from amend.errors import CacheError
    from amend.stats import Corpus
    from amend.storage import write_tensors

    calls = []
    real = common.sample_template_ids

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(common, "sample_template_ids", counted)
    settings = {k: v for k, v in ROME_TEST_SETTINGS.items() if k != "context_templates"}
    settings["template_lengths"] = ((2, 4),)

    def editor(**extra):
        return amend.Editor(trained_tiny_model("gpt2"), tokenizer(), "rome", corpus=Corpus.from_texts(corpus()),
                            cache_dir=tmp_path, **{**settings, **extra})  # fmt: skip

    first = editor()
    first.edit(edit_request("{} works for", "Apple A5"))
    first.edit(edit_request("{} speaks", "Toko Yasuda"))
    templates = first.patches[1].log["templates"]
    assert len(calls) == 1 and len(templates) == 3  # two sampled, and the bare prompt
    again = editor()  # a new run on the same model: read from disk, not sampled
    again.edit(edit_request("{} works for", "Apple A5"))
    assert len(calls) == 1 and again.patches[0].log["templates"] == templates
    other = editor(template_seed=1)
    other.edit(edit_request("{} works for", "Apple A5"))
    assert len(calls) == 2 and other.patches[0].log["templates"] != templates
    from safetensors import safe_open

    def header(file):
        with safe_open(str(file), framework="pt") as handle:
            return {k: v for k, v in handle.metadata().items() if k != "sha256"}

    (file,) = [f for f in tmp_path.rglob("sampled/*.safetensors") if header(f)["seed"] == "0"]
    header = header(file)
    write_tensors(file, {"ids.0": torch.full((2, 4), 10**9, dtype=torch.int64)}, header)  # digest fine, ids not
    with pytest.raises(CacheError, match="outside the model's vocabulary"):
        editor().edit(edit_request("{} works for", "Apple A5"))
    write_tensors(file, {"ids.0": torch.ones((1, 4), dtype=torch.int64)}, header)  # one template where two were sampled
    with pytest.raises(CacheError, match="not 2 rows"):
        editor().edit(edit_request("{} works for", "Apple A5"))


def _both_ways(model_type: str, site: Site, dtype: torch.dtype = torch.float64):
    body, tok = anatomy(tiny_model(model_type).to(dtype)), tokenizer(True)
    for param in body.model.parameters():
        param.requires_grad_(False)
    settings = TargetSettings(steps=8, early_stop_loss=0.0)
    templates = ["{}", "Rain fell on the town. {}"]
    full = optimise_targets(body, tok, REQUESTS, templates, site, replace(settings, reuse_frozen=False))
    partial = optimise_targets(body, tok, REQUESTS, templates, site, settings)
    return full, partial


@pytest.mark.parametrize("model_type", sorted(TINY_CONFIGS))
def test_the_partial_forward_gives_the_full_forwards_vectors(model_type):
    """Steps after the first run only the tokens from the fact token on, through the layers from the site on. With
    the model in float64 the vectors are the full forward's to float32 rounding of δ itself (1e-6), so what differs
    with a float32 model is the rounding of differently shaped products."""
    for site in (Site(Component.MLP_OUTPUT, 1), Site(Component.BLOCK_OUTPUT, 2)):
        full, partial = _both_ways(model_type, site)
        assert partial.partial_forward == "checked" and full.partial_forward == "off"
        assert torch.equal(partial.init, full.init)
        assert float((partial.delta - full.delta).norm() / full.delta.norm()) < 1e-6
        assert partial.iterations == full.iterations
    full, partial = _both_ways(model_type, Site(Component.MLP_OUTPUT, 1), torch.float32)
    assert float((partial.delta - full.delta).norm() / full.delta.norm()) < 1e-4


def test_a_partial_forward_that_disagrees_is_not_used(monkeypatch):
    real = SuffixForward.logits_at
    monkeypatch.setattr(SuffixForward, "logits_at", lambda self, *args: real(self, *args) + 0.1)
    full, partial = _both_ways("llama", Site(Component.MLP_OUTPUT, 1))
    assert "differ" in partial.partial_forward
    assert torch.equal(partial.delta, full.delta)


def test_resuming_at_a_layer_restores_the_layer_list_also_on_error():
    body = anatomy(tiny_model("gpt2"))
    layers = list(body.layers)
    hidden = torch.zeros(1, 2, body.hidden_size)
    with pytest.raises(RuntimeError, match="inside"), resume_at(body, 1, hidden):
        assert len(body.layers) == len(layers) - 1
        raise RuntimeError("inside")
    assert list(body.layers) == layers
    assert not any(layer._forward_pre_hooks for layer in layers)


def test_the_loss_layer_reads_a_layers_output_through_the_final_norm():
    """The last layer as the loss layer is the model's own logits; an earlier one changes the target (its NLL reads
    that layer through the final norm and unembedding); a layer below the site is refused."""
    body, tok = anatomy(tiny_model("llama")), tokenizer(True)
    for param in body.model.parameters():
        param.requires_grad_(False)
    site = Site(Component.MLP_OUTPUT, 0)
    settings = TargetSettings(steps=6, early_stop_loss=0.0, reuse_frozen=False)
    default = optimise_targets(body, tok, REQUESTS, ["{}"], site, settings)
    last = optimise_targets(body, tok, REQUESTS, ["{}"], site, replace(settings, loss_layer=body.num_layers - 1))
    earlier = optimise_targets(body, tok, REQUESTS, ["{}"], site, replace(settings, loss_layer=1))
    assert torch.equal(default.delta, last.delta) and not torch.allclose(default.delta, earlier.delta)
    partial = optimise_targets(body, tok, REQUESTS, ["{}"], site, replace(settings, loss_layer=1, reuse_frozen=True))
    assert partial.partial_forward == "checked"
    assert float((partial.delta - earlier.delta).norm() / earlier.delta.norm()) < 1e-4
    with pytest.raises(ConfigError, match="v_loss_layer"):
        optimise_targets(body, tok, REQUESTS, ["{}"], Site(Component.MLP_OUTPUT, 2), replace(settings, loss_layer=1))


@pytest.mark.parametrize("model_type", ["gpt2", "llama", "gemma2"])
def test_the_lens_of_the_last_layer_is_the_models_logits(model_type):
    body = anatomy(tiny_model(model_type))
    ids = torch.tensor([[1, 5, 9, 12]])
    site = Site(Component.BLOCK_OUTPUT, body.num_layers - 1)
    with capture(body, [site]) as records, torch.no_grad():
        logits = body.model(input_ids=ids).logits[0].float()
    with torch.no_grad():
        assert torch.allclose(lens_logits(body, records[site][0]), logits, atol=1e-5)


@pytest.mark.parametrize("model_type", ["gpt2", "llama", "qwen2"])
def test_the_partial_forward_with_rows_that_have_no_prefix(model_type):
    """Without a BOS and with the subject's first token as the fact token, prompts that start with the subject have
    nothing before the split: mixed with rows that have a prefix, and alone (no key/value cache at all)."""
    body, tok = anatomy(tiny_model(model_type).double()), tokenizer(False)
    for param in body.model.parameters():
        param.requires_grad_(False)
    settings = TargetSettings(steps=6, early_stop_loss=0.0, fact_token="subject_first")
    site = Site(Component.MLP_OUTPUT, 1)
    for requests in (REQUESTS, REQUESTS[1:]):  # the first request's subject is mid-prompt
        full = optimise_targets(body, tok, requests, ["{}"], site, replace(settings, reuse_frozen=False))
        partial = optimise_targets(body, tok, requests, ["{}"], site, settings)
        assert partial.partial_forward == "checked"
        assert float((partial.delta - full.delta).norm() / full.delta.norm()) < 1e-6
