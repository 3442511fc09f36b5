"""Causal tracing on a tiny trained model: restoring the whole last state gives back the clean run exactly, and the
corrupted run is another; the heat map and JSON are written; a layer is recommended."""

import json

import pytest
import torch
from helpers import facts, tiny_model, tokenizer, trained_tiny_model
from typer.testing import CliRunner

from amend import tracing
from amend.cli.app import app
from amend.tracing import plot_trace, recommend_layer, trace


def test_restoring_the_last_state_gives_the_clean_probability_back(tmp_path):
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    frame = "The mother tongue of {} is"  # tokens before the subject, which the corruption does not reach
    answer = " " + facts()[(frame, "Danielle Darrieux")]
    result = trace(model, tok, frame, "Danielle Darrieux", answer, samples=3, window=2)
    layers, tokens = model.config.n_layer, len(result.tokens)
    assert {kind: tuple(s.shape) for kind, s in result.scores.items()} == dict.fromkeys(
        ("hidden", "mlp", "attn"), (layers, tokens)
    )
    assert result.clean > 0.5 and result.corrupted < result.clean  # the model knows it; noise on the subject hurts
    assert abs(float(result.scores["hidden"][layers - 1, tokens - 1]) - result.clean) < 1e-5
    # restoring a state before the subject changes nothing: the corruption starts at the subject
    assert result.subject[0] > 0 and abs(float(result.scores["hidden"][0, 0]) - result.corrupted) < 1e-6
    assert 0 <= recommend_layer([result]) < layers
    assert plot_trace([result, result], tmp_path / "trace.png").stat().st_size > 0


def test_amend_trace_writes_json_and_png_and_recommends_a_layer(tmp_path):
    model_dir = tmp_path / "tiny"
    trained_tiny_model("gpt2").save_pretrained(model_dir)
    tokenizer().save_pretrained(model_dir)
    args = ["trace", "--model", str(model_dir), "--prompt", "{} works for", "--subject", "Apple A5", "--samples", "2"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "out" / "trace.json").read_text())
    assert saved["recommended_layer"] in range(3) and len(saved["traces"]) == 1
    assert torch.tensor(saved["traces"][0]["scores"]["mlp"]).shape[0] == 3
    assert (tmp_path / "out" / "trace.png").stat().st_size > 0


@pytest.mark.parametrize("band", [1, 8])
def test_the_partial_trace_computes_the_full_traces_probabilities(band, monkeypatch):
    """Each restored run computed from the restored token and layer on (the corrupted run's keys, values and layer
    inputs kept) gives the probabilities of running it in full: in float64, to rounding (band 1: every pass resumes
    at its own layer)."""
    monkeypatch.setattr(tracing, "RESUME_BAND", band)
    for model_type in ("gpt2", "llama"):
        model, tok = tiny_model(model_type).double(), tokenizer(model_type == "llama")
        full = trace(model, tok, "The mother tongue of {} is", "Danielle Darrieux", samples=2, window=2, partial=False)
        partial = trace(model, tok, "The mother tongue of {} is", "Danielle Darrieux", samples=2, window=2)
        for kind in full.scores:
            assert torch.allclose(partial.scores[kind], full.scores[kind], rtol=0, atol=1e-10), kind
        assert partial.corrupted == pytest.approx(full.corrupted, abs=1e-12)
