"""What benchmarks need from the evaluation: aliases, cases edited together, and generation-based metrics."""

import pytest
import torch
from helpers import facts, tokenizer, trained_tiny_model

from amend import ConfigError, EditRequest, Probe
from amend.evaluation import EvaluationSettings, evaluate
from amend.evaluation import runner as runner_module
from amend.evaluation.generation import GenerationSettings, generate_texts, quality
from amend.evaluation.metrics import mean_fluency
from amend.lm import CausalLM

QUIET = EvaluationSettings(progress=False)

FRAME, SUBJECT = "The mother tongue of {} is", "Danielle Darrieux"


@pytest.fixture(scope="module")
def model():
    return trained_tiny_model("gpt2")


def _known() -> tuple[str, str]:
    return FRAME.format(SUBJECT), facts()[(FRAME, SUBJECT)]


def test_an_alias_the_model_says_makes_the_probe_correct_in_every_protocol(model):
    prompt, known = _known()
    wrong = "Nokia" if known != "Nokia" else "Google"
    foil = "piano" if known != "piano" else "Tokyo"

    def portability(probe: Probe) -> dict:
        request = EditRequest(FRAME, SUBJECT, "Tokyo", portability=[probe])
        result = evaluate(model, tokenizer(), [request], None, settings=QUIET)
        return {protocol: v["mean"] for protocol, v in result.summary["portability"].items()}

    without = portability(Probe(prompt, wrong, foil=foil))
    with_alias = portability(Probe(prompt, wrong, foil=foil, aliases=(known,)))
    assert without == {"probability": 0.0, "token_accuracy": 0.0, "exact_match": 0.0}
    assert with_alias == {"probability": 1.0, "token_accuracy": 1.0, "exact_match": 1.0}


def test_a_foil_equal_to_an_alias_is_no_comparison(model):
    prompt, known = _known()
    request = EditRequest(FRAME, SUBJECT, "Tokyo", portability=[Probe(prompt, "Nokia", foil=known, aliases=(known,))])
    result = evaluate(
        model, tokenizer(), [request], None, settings=EvaluationSettings(protocols=("probability",), progress=False)
    )
    assert "portability" not in result.summary


def test_requests_of_one_group_are_edited_together_in_single_mode(model, monkeypatch):
    calls = []

    def fake_edit(editor, requests):
        calls.append([r.id for r in requests])

    monkeypatch.setattr(runner_module.Editor, "edit", fake_edit)
    requests = [
        EditRequest(FRAME, SUBJECT, "Tokyo", group=7, id="7/0"),
        EditRequest("{} speaks", "Toko Yasuda", "Dutch", id="alone"),
        EditRequest("{} works for", "Apple A5", "Nokia", group=7, id="7/1"),
    ]
    result = evaluate(
        model, tokenizer(), requests, "rome", settings=EvaluationSettings(protocols=("token_accuracy",), progress=False)
    )
    assert calls == [["7/0", "7/1"], ["alone"]]
    assert [r["id"] for r in result.records] == ["7/0", "alone", "7/1"]


def test_generation_is_reproducible_and_leaves_the_global_random_state(model):
    scorer, prompts = CausalLM(model, tokenizer(), batch_size=2), [FRAME.format(SUBJECT), "Toko Yasuda plays the"] * 2
    sampled = GenerationSettings("top_k", top_k=5, seed=1, max_new_tokens=12)
    state = torch.random.get_rng_state()
    first = generate_texts(scorer, prompts, sampled)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert generate_texts(scorer, prompts, sampled) == first
    others = [generate_texts(scorer, prompts, GenerationSettings("top_k", seed=s, max_new_tokens=12)) for s in (2, 3)]
    assert any(texts != first for texts in others)  # the seed matters
    greedy = generate_texts(scorer, prompts, GenerationSettings("greedy", max_new_tokens=12))
    assert greedy == scorer.generate(prompts, [12] * len(prompts))
    assert GenerationSettings("greedy").to_dict() == {"sampling": "greedy", "max_new_tokens": 100}
    with pytest.raises(ConfigError):
        GenerationSettings("beam")


def test_fluency_and_consistency_in_the_report(model):
    requests = [
        EditRequest(FRAME, SUBJECT, "Tokyo", generation=("Danielle Darrieux is", FRAME.format(SUBJECT)), id="a"),
        EditRequest("{} speaks", "Toko Yasuda", "Dutch", id="b"),
    ]
    settings = GenerationSettings("greedy", max_new_tokens=10)
    references = {"a": ["Tokyo is a city. The mother tongue of people in Tokyo is Japanese."]}
    result = evaluate(
        model,
        tokenizer(),
        requests,
        None,
        settings=EvaluationSettings(progress=False, generation=settings),
        references=references,
    )
    texts = [s["after"]["generation"] for s in result.samples if s["metric"] == "generation"]
    assert len(texts) == 2 and result.extra["generation"] == settings.to_dict()
    assert result.records[0]["fluency"]["generation"] == pytest.approx(mean_fluency(texts))
    assert result.summary["fluency"]["generation"]["records"] == 1  # request b has no generation prompts
    assert result.summary["consistency"]["generation"]["records"] == 1
    assert result.pre_summary["fluency"] == result.summary["fluency"]  # no edit: the same texts
    assert "generation" in result.protocols
    assert quality({0: texts}, requests, references)[0][1]["consistency"]["generation"] == pytest.approx(
        result.records[0]["consistency"]["generation"]
    )
    with pytest.raises(ConfigError, match="sequential"):
        EvaluationSettings("sequential", generation=settings, progress=False)
