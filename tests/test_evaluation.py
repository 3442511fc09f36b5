import json

import pytest
import torch
from helpers import (
    ROME_TEST_SETTINGS,
    corpus,
    facts,
    tiny_model,
    tokenizer,
    trained_tiny_model,
    world_like_requests,
)

import amend
from amend.evaluation import EvaluationSettings, evaluate
from amend.evaluation.metrics import exact_match
from amend.lm import CausalLM
from amend.stats import Corpus
from amend.tokens import target_ids

QUIET = EvaluationSettings(progress=False)

PAIRS = [
    ("The mother tongue of Danielle Darrieux is", "French"),
    ("Toko Yasuda plays the", "guitar"),
    ("Apple A5 is a product of", "Google"),
    ("The official religion of Edwin of Northumbria is", "Christianity and more"),
    ("Honus Wagner works for", "Nokia"),
]


@pytest.mark.parametrize(("model_type", "bos"), [("gpt2", False), ("llama", True)])
@pytest.mark.parametrize("side", ["right", "left"])
def test_batched_scores_equal_unbatched_full_forward(model_type, bos, side):
    model, tok = tiny_model(model_type), tokenizer(bos)
    batched = CausalLM(model, tok, batch_size=8, padding_side=side).score(PAIRS)
    for (prompt, answer), scored in zip(PAIRS, batched, strict=True):
        prompt_ids, answer_ids = target_ids(tok, prompt, answer)
        with torch.no_grad():
            logits = model(torch.tensor([prompt_ids + answer_ids])).logits[0].log_softmax(-1)
        positions = range(len(prompt_ids) - 1, len(prompt_ids) + len(answer_ids) - 1)
        expected = [logits[p, t].item() for p, t in zip(positions, answer_ids, strict=True)]
        assert scored.answer_ids == tuple(answer_ids)
        assert scored.logprobs == pytest.approx(expected, abs=1e-4)
        assert list(scored.argmax) == [int(logits[p].argmax()) for p in positions]


def test_generation_batched_equals_one_at_a_time():
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    scorer = CausalLM(model, tok, batch_size=8)
    prompts = [prompt for prompt, _ in PAIRS]
    together = scorer.generate(prompts, [4] * len(prompts))
    assert together == [scorer.generate([p], [4])[0] for p in prompts]
    known = facts()[("The mother tongue of {} is", "Danielle Darrieux")]
    assert exact_match(together[0], known)  # the trained model says its fact, then ends the sentence


@pytest.mark.parametrize("mode", ["single", "batch"])
def test_evaluate_reports_every_metric_per_protocol_and_leaves_the_model_unchanged(mode, tmp_path):
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    original = {k: v.clone() for k, v in model.state_dict().items()}
    options = dict(corpus=Corpus.from_texts(corpus()), cache_dir=tmp_path / "cache")
    result = evaluate(
        model,
        tok,
        world_like_requests(),
        "rome",
        settings=EvaluationSettings(mode, progress=False),
        **options,
        **ROME_TEST_SETTINGS,
    )
    assert all(torch.equal(original[k], v) for k, v in model.state_dict().items())
    assert result.mode == mode and result.config["layer"] == 0
    for metric in (
        "reliability",
        "generalization",
        "generalization/prefixed",
        "locality_agreement",
        "locality_accuracy",
        "locality_accuracy/neighbour",
        "locality_accuracy/same_subject",
    ):
        assert set(result.summary[metric]) == {"probability", "token_accuracy", "exact_match"}, metric
    assert result.summary["reliability"]["probability"]["records"] == 4
    assert result.pre_summary["reliability"]["probability"]["mean"] == 0.0  # every target is counterfactual
    assert result.mean("reliability", "probability") >= 0.5
    assert result.pre_summary["locality_accuracy"]["token_accuracy"]["mean"] > 0.9  # the model knows its facts
    path = result.save(tmp_path / "out")
    saved = json.loads(path.read_text())
    assert saved["mode"] == mode and saved["method"] == "rome" and saved["versions"]["torch"]
    assert saved["model"]["fingerprint"] == amend.fingerprint.fingerprint(model)
    samples = (tmp_path / "out").glob("samples_*.jsonl")
    lines = [json.loads(line) for line in next(samples).read_text().splitlines()]
    assert len(lines) == sum(1 + len(r.rephrase) + len(r.locality) for r in world_like_requests())
    assert {"before", "after", "values"} <= set(lines[0])


def test_unedited_evaluation_and_pre_edit_predictions_computed_once(monkeypatch, tmp_path):
    import amend.evaluation.runner as runner

    calls = []
    real = runner.observe

    def counting(scorer, items, protocols):
        calls.append(len(items))
        return real(scorer, items, protocols)

    monkeypatch.setattr(runner, "observe", counting)
    model, tok = trained_tiny_model("gpt2"), tokenizer()
    requests = world_like_requests(2)
    options = dict(corpus=Corpus.from_texts(corpus()), cache_dir=tmp_path)
    evaluate(model, tok, requests, "rome", settings=QUIET, **options, **ROME_TEST_SETTINGS)
    total = sum(1 + len(r.rephrase) + len(r.locality) for r in requests)
    assert calls == [total, total // 2, total // 2]  # all items once before, then each record's items after
    unedited = evaluate(
        model, tok, requests, None, settings=EvaluationSettings(protocols=("probability",), progress=False)
    )
    assert unedited.method == "none" and set(unedited.summary["reliability"]) == {"probability"}
    assert unedited.summary["locality_agreement"]["probability"]["mean"] == 1.0


def test_bad_mode_protocol_and_task_are_refused():
    with pytest.raises(amend.ConfigError, match="mode"):
        EvaluationSettings(mode="sequentail")
    with pytest.raises(amend.ConfigError, match="protocol"):
        EvaluationSettings(protocols=("f1",))
    with pytest.raises(amend.ConfigError, match="Did you mean 'edit'"):
        EvaluationSettings(task="edits")
