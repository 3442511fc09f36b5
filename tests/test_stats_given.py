"""Statistics handed to an edit: the original ROME/MEMIT .npz files, amend's own files, or tensors. They replace the
computed statistics exactly, are recorded in the patch, and a file that is not a second moment is refused."""

import json

import numpy as np
import pytest
import torch
from helpers import (
    BATCH_TEST_SETTINGS,
    ROME_TEST_SETTINGS,
    batch_test_requests,
    corpus,
    edit_request,
    tokenizer,
    trained_tiny_model,
)
from typer.testing import CliRunner

import amend
from amend.architectures import anatomy
from amend.cli.app import app
from amend.errors import ConfigError
from amend.stats import Corpus, SecondMoment, StatsCache, StatsSettings
from amend.stats.given import load_moment

TEXTS = Corpus.from_texts(corpus(60))
TOKENS = 2000


def _moment(model, layer: int, tmp_path) -> SecondMoment:
    settings = StatsSettings(token_budget=TOKENS)
    cache = StatsCache(tmp_path / "made")
    return cache.second_moments(anatomy(model), tokenizer(), [layer], TEXTS, settings, progress=False)[layer]


def _write_npz(path, moment: SecondMoment, dtype=np.float64, **extra) -> None:
    """A file laid out as the original layer_stats writes it (runningstats.SecondMoment's state_dict)."""
    arrays = {
        "mom2.mom2": moment.total.numpy().astype(dtype),
        "mom2.count": np.array(moment.count),
        "mom2.constructor": np.array("util.runningstats.SecondMoment()"),
        "sample_size": np.array(100000),
    }
    np.savez(path, **{**arrays, **extra})


def test_an_original_npz_gives_the_same_rome_edit_as_the_statistics_it_holds(tmp_path):
    model, other = trained_tiny_model("gpt2"), trained_tiny_model("gpt2")
    request = edit_request("{} works for", "Apple A5")
    options = {**ROME_TEST_SETTINGS, "stats_tokens": TOKENS}
    _write_npz(tmp_path / "layer0.npz", _moment(model, 0, tmp_path))
    computed = amend.edit(model, tokenizer(), request, "rome", corpus=TEXTS, cache_dir=tmp_path / "a", **options)
    cache = StatsCache(tmp_path / "b")
    given = amend.edit(
        other, tokenizer(), request, "rome", statistics={0: tmp_path / "layer0.npz"}, cache_dir=cache, **options
    )
    assert cache.computed == 0
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), other.parameters(), strict=True))
    assert given.log["statistics_given"]["0"].startswith("layer0.npz@")
    assert computed.log.get("statistics_given") is None


def test_alphaedit_takes_given_statistics_for_its_projector_and_solve(tmp_path):
    model, other = trained_tiny_model("gpt2"), trained_tiny_model("gpt2")
    options = {**BATCH_TEST_SETTINGS, "stats_tokens": TOKENS, "threshold_mode": "relative", "nullspace_threshold": 0.01}
    moments = {layer: _moment(model, layer, tmp_path) for layer in (0, 1)}
    amend.edit(
        model, tokenizer(), batch_test_requests(), "alphaedit", corpus=TEXTS, cache_dir=tmp_path / "a", **options
    )
    amend.edit(
        other, tokenizer(), batch_test_requests(), "alphaedit", statistics=moments, cache_dir=tmp_path / "b", **options
    )
    for a, b in zip(model.parameters(), other.parameters(), strict=True):
        assert torch.allclose(a, b, rtol=0, atol=1e-6)


def test_a_float32_npz_as_the_originals_write_it_loads_as_its_sum_over_its_count(tmp_path):
    moment = SecondMoment(torch.tensor([[4.0, 1.0], [1.0, 9.0]], dtype=torch.float64), 2)
    _write_npz(tmp_path / "s.npz", moment, dtype=np.float32)
    loaded = load_moment(tmp_path / "s.npz").moment
    assert loaded.count == 2 and torch.equal(loaded.mean(), torch.tensor([[2.0, 0.5], [0.5, 4.5]]))


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"mom2.mom2": np.array([[1.0, np.nan], [np.nan, 1.0]])}, "not finite"),
        ({"mom2.mom2": np.ones((2, 3))}, "square"),
        ({"mom2.mom2": -np.eye(2)}, "negative diagonal"),
        ({"mom2.count": np.array(0)}, "count"),
        ({"mom2.count": np.array(2.5)}, "whole number"),
        ({"mom2.mom2": np.array([[b"a"]])}, "float matrix"),
        ({"mom2.mom2": np.array([{"x": 1}], dtype=object)}, "readable"),  # an object array needs pickle: refused
    ],
)
def test_an_npz_that_is_not_a_second_moment_is_refused_naming_the_file(tmp_path, extra, problem):
    _write_npz(tmp_path / "bad.npz", SecondMoment(torch.eye(2, dtype=torch.float64), 2), **extra)
    with pytest.raises(ConfigError, match=problem) as caught:
        load_moment(tmp_path / "bad.npz")
    assert "bad.npz" in str(caught.value)


def test_an_npz_without_the_original_arrays_or_of_another_width_is_refused(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.eye(2))
    with pytest.raises(ConfigError, match=r"mom2\.mom2"):
        load_moment(tmp_path / "other.npz")
    _write_npz(tmp_path / "narrow.npz", SecondMoment(torch.eye(3, dtype=torch.float64), 5))
    model = trained_tiny_model("gpt2")
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(ConfigError, match=r"layer 0.*3 wide"):
        amend.edit(
            model,
            tokenizer(),
            edit_request("{} works for", "Apple A5"),
            "rome",
            statistics={0: tmp_path / "narrow.npz"},
            cache_dir=tmp_path / "c",
            **ROME_TEST_SETTINGS,
        )
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_the_command_line_takes_a_layers_statistics_file(tmp_path):
    model = trained_tiny_model("gpt2")
    model.save_pretrained(tmp_path / "model")
    tokenizer().save_pretrained(tmp_path / "model")
    _write_npz(tmp_path / "layer0.npz", _moment(model, 0, tmp_path))
    (tmp_path / "edits.json").write_text(json.dumps([edit_request("{} works for", "Apple A5").to_dict()]))
    model_args = ["edit", "--model", str(tmp_path / "model"), "--requests", str(tmp_path / "edits.json")]
    overrides = [f"--set={k}={json.dumps(v)}" for k, v in ROME_TEST_SETTINGS.items()]
    stats = ["--stats", f"0={tmp_path / 'layer0.npz'}", "--cache-dir", str(tmp_path / "c")]
    result = CliRunner().invoke(app, [*model_args, "--out", str(tmp_path / "out"), *stats, *overrides])
    assert result.exit_code == 0, result.output
    assert "layer0.npz@" in (tmp_path / "out" / "patch.json").read_text()
    assert not list((tmp_path / "c").rglob("*mom2*"))  # nothing computed
    refused = CliRunner().invoke(app, [*model_args, "--out", str(tmp_path / "o2"), "--stats", "x=1"])
    assert refused.exit_code != 0 and "LAYER=FILE" in str(refused.exception)


def test_an_edit_keeps_its_intermediates_on_request_and_a_saved_patch_carries_them(tmp_path):
    """ROME's kept intermediates are the edit: the update is r uᵀ, and the edited module maps the kept key to the
    kept target exactly (ROME's equality constraint)."""
    model = trained_tiny_model("gpt2")
    request = edit_request("{} works for", "Apple A5")
    options = {**ROME_TEST_SETTINGS, "stats_tokens": TOKENS}
    plain = amend.edit(model, tokenizer(), request, "rome", corpus=TEXTS, cache_dir=tmp_path / "c", **options)
    assert plain.intermediates == {}
    plain.revert()
    patch = amend.edit(
        model, tokenizer(), request, "rome", corpus=TEXTS, cache_dir=tmp_path / "c", keep_intermediates=True, **options
    )
    kept = patch.intermediates
    assert {"0.key", "0.mean_key", "0.init", "0.target", "0.u", "0.r"} <= set(kept)
    module = anatomy(model).module(patch.modules[0])  # GPT-2's Conv1D: y = k W + b
    assert torch.allclose(kept["0.key"] @ module.weight + module.bias, kept["0.target"], atol=1e-4)
    delta = patch.changes[0]
    assert torch.allclose(delta.left @ delta.right, kept["0.r"][:, None] @ kept["0.u"][None, :])
    patch.save(tmp_path / "patch")
    loaded = amend.Patch.load(tmp_path / "patch")
    assert set(loaded.intermediates) == set(kept)
    assert all(torch.equal(loaded.intermediates[name], kept[name]) for name in kept)


def test_batched_methods_keep_keys_targets_residuals_and_projectors(tmp_path):
    model = trained_tiny_model("gpt2")
    options = {**BATCH_TEST_SETTINGS, "stats_tokens": TOKENS, "threshold_mode": "relative", "nullspace_threshold": 0.01}
    requests = batch_test_requests()
    patch = amend.edit(
        model, tokenizer(), requests, "alphaedit", corpus=TEXTS, cache_dir=tmp_path, keep_intermediates=True, **options
    )
    kept = patch.intermediates
    width = model.config.n_inner
    assert kept["target"].shape == kept["target_init"].shape == (len(requests), model.config.n_embd)
    for layer in (0, 1):
        assert kept[f"keys.{layer}"].shape == (len(requests), width)
        projector = kept[f"projector.{layer}"]
        assert torch.allclose(projector @ projector, projector, atol=1e-8)  # a projector
