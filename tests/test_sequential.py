from pathlib import Path

import pytest
import torch
from helpers import ROME_TEST_SETTINGS, corpus, tokenizer, trained_tiny_model, world_like_requests

import amend
from amend.evaluation import EvaluationSettings, evaluate
from amend.evaluation.plot import run_labels
from amend.evaluation.sequential import SequentialSettings
from amend.stats import Corpus


def run(model, tmp_path, run_dir=None, resume=False, method="rome", **overrides):
    settings = SequentialSettings(edit_batch_size=2, checkpoint_every=1, run_dir=run_dir, save_every=1, resume=resume)
    options = dict(corpus=Corpus.from_texts(corpus()), cache_dir=tmp_path / "cache")
    return evaluate(
        model,
        tokenizer(),
        world_like_requests(6),
        method,
        settings=EvaluationSettings("sequential", progress=False, sequential=settings),
        **options,
        **{**ROME_TEST_SETTINGS, **overrides},
    )


def test_sequential_records_immediate_and_retention_and_checkpoints(tmp_path):
    model = trained_tiny_model("gpt2")
    original = {k: v.clone() for k, v in model.state_dict().items()}
    result = run(model, tmp_path)
    assert result.mode == "sequential"
    assert [c["edits"] for c in result.extra["checkpoints"]] == [2, 4, 6]
    assert result.extra["checkpoints"][-1]["summary"] == result.summary
    assert result.extra["checkpoints"][0]["summary"]["reliability"]["probability"]["records"] == 2
    immediate = result.extra["immediate_summary"]["reliability"]["probability"]
    assert immediate["records"] == 6
    assert result.summary["reliability"]["probability"]["records"] == 6
    assert all(torch.equal(original[k], v) for k, v in model.state_dict().items())  # reverted at the end


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    uninterrupted = run(trained_tiny_model("gpt2"), tmp_path, run_dir=tmp_path / "full")

    real_edit = amend.Editor.edit
    calls = []

    def dies_on_third_batch(self, requests):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_edit(self, requests)

    monkeypatch.setattr(amend.Editor, "edit", dies_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        run(trained_tiny_model("gpt2"), tmp_path, run_dir=tmp_path / "cut")
    monkeypatch.setattr(amend.Editor, "edit", real_edit)
    saved = amend.Editor.saved_extra(tmp_path / "cut")
    assert saved["batches_done"] == 2
    with pytest.raises(amend.ConfigError, match="resume"):
        run(trained_tiny_model("gpt2"), tmp_path, run_dir=tmp_path / "cut")
    resumed = run(trained_tiny_model("gpt2"), tmp_path, run_dir=tmp_path / "cut", resume=True)
    assert resumed.summary == uninterrupted.summary
    assert resumed.extra["immediate_summary"] == uninterrupted.extra["immediate_summary"]
    assert resumed.extra["checkpoints"] == uninterrupted.extra["checkpoints"]


def test_plot_labels_name_the_run_only_where_the_method_repeats():
    def results(method: str) -> dict:
        return {"method": method, "extra": {"edit_batch_size": 50}}

    runs = [(Path("runs/a-default"), results("alphaedit")), (Path("runs/a-l2-25"), results("alphaedit"))]
    runs.append((Path("runs/m"), results("memit")))
    assert run_labels(runs) == [
        "alphaedit (batch 50), a-default",
        "alphaedit (batch 50), a-l2-25",
        "memit (batch 50)",
    ]
