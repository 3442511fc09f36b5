"""General abilities after many edits: the metrics on hand-made outputs, the suites' items, the harness bridge on a
local task, and the checkpointed run (checkpoints of one run equal runs stopped there; resuming continues it)."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass

import pytest
import torch
from tests.helpers import tiny_model, tokenizer

from amend.abilities import (
    AbilitySettings,
    FluencyAbility,
    KnownFactsAbility,
    QuestionAbility,
    run_abilities,
    text_abilities,
    world_abilities,
    world_facts,
)
from amend.abilities.builtin import first_words, number_match
from amend.abilities.metrics import empty_rate, first_number, is_muted, muting_rate
from amend.abilities.plot import plot_abilities
from amend.abilities.suites import ARITHMETIC_EXAMPLES, arithmetic_cases
from amend.editing import method_config
from amend.errors import ConfigError, RunMismatch
from amend.evaluation.runner import EditSetup
from amend.lm import Scored, language_model
from amend.requests import EditRequest
from amend.testbeds import load as load_testbed

# --- metrics on hand-made outputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "muted"),
    [
        ("", True),
        ("  ... \n", True),
        ("Paris.", False),
        ("Rome Rome Rome Rome", True),
        ("a b a a", True),  # 3 of 4 words
        ("the cat sat on the mat", False),  # "the" is 2 of 6
        ("Rome Rome Rome", False),  # shorter than MIN_WORDS: an answer may repeat a word
    ],
)
def test_muting_flags_empty_and_looping_generations(text, muted):
    assert is_muted(text) is muted


def test_muting_and_empty_rates_are_shares():
    texts = ["", "Paris is big", "x x x x x", "."]
    assert muting_rate(texts) == 0.75  # "", the loop and "."
    assert empty_rate(texts) == 0.5
    with pytest.raises(ValueError):
        muting_rate([])


def test_number_and_word_matches():
    assert first_number("= 17, because") == 17
    assert first_number("minus -3") == -3
    assert first_number("none") is None
    assert number_match(" 12\n4 + 4 = 8", "12") and not number_match(" 21", "12")
    assert first_words("yes yes yes", "yes") and first_words(" New York is", "New York")
    assert not first_words("no", "yes") and not first_words("", "yes")


@dataclass
class FixedLM:
    """A LanguageModel whose generations and scores are given by prompt: the abilities' arithmetic alone."""

    generations: dict[str, str]
    scores: dict[tuple[str, str], tuple[list[float], list[int], list[int]]]

    def score(self, pairs):
        out = []
        for pair in pairs:
            logprobs, argmax, answer = self.scores[pair]
            out.append(Scored(tuple(answer), tuple(logprobs), tuple(argmax)))
        return out

    def generate(self, prompts, max_new_tokens, *, top_k=None, seed=0):
        return [self.generations[p] for p in prompts]

    def decode(self, ids):
        return " ".join(map(str, ids))


def test_question_ability_scores_exact_match_token_accuracy_and_empty_outputs():
    cases = [("Q1", "Paris"), ("Q2", "Rome"), ("Q3", "Oslo")]
    lm = FixedLM(
        {"Q1": " Paris. It is", "Q2": " Milan.", "Q3": " ..."},
        {
            ("Q1", "Paris"): ([-0.1, -0.2], [5, 6], [5, 6]),
            ("Q2", "Rome"): ([-2.0], [9], [7]),
            ("Q3", "Oslo"): ([-0.5, -3.0], [3, 1], [3, 4]),
        },
    )
    result = QuestionAbility("capitals", cases).evaluate(lm)
    assert result.score == pytest.approx(1 / 3)
    assert result.details["token_accuracy"] == pytest.approx((1 + 0 + 0.5) / 3)
    assert result.details["empty"] == pytest.approx(1 / 3)
    assert [s["value"] for s in result.samples] == [1.0, 0.0, 0.0]


def test_fluency_ability_is_rome_entropy_with_the_muting_rate():
    lm = FixedLM({"p1": "a b a b", "p2": "p q r s"}, {})
    result = FluencyAbility(["p1", "p2"]).evaluate(lm)
    h2 = -(2 / 3 * math.log2(2 / 3) + 1 / 3 * math.log2(1 / 3))  # bigrams ab, ba, ab
    first = (2 / 3 * h2 + 4 / 3 * 1.0) / 2  # trigrams aba, bab: 1 bit
    second = (2 / 3 * math.log2(3) + 4 / 3 * 1.0) / 2  # three distinct bigrams, two distinct trigrams
    assert result.score == pytest.approx((first + second) / 2)
    assert result.details["muted"] == 0.5  # "a b a b": "a" is half its words, a loop


def test_known_facts_counts_the_facts_whose_true_object_is_still_preferred():
    requests = [
        EditRequest(prompt="{} is in", subject=s, target_new=new, target_true=true)
        for s, true, new in [("A", "X", "Y"), ("B", "U", "V")]
    ]
    scores = {
        ("A is in", "X"): ([-0.1], [1], [1]),
        ("A is in", "Y"): ([-2.0], [1], [2]),
        ("B is in", "U"): ([-3.0], [4], [3]),  # the edit leaked: B now prefers V
        ("B is in", "V"): ([-1.0], [4], [4]),
    }
    result = KnownFactsAbility(requests).evaluate(FixedLM({"A is in": " X.", "B is in": " V."}, scores))
    assert result.score == 0.5
    assert result.details["exact_match"] == 0.5


def test_arithmetic_items_are_deterministic_and_correct():
    cases = arithmetic_cases(50, seed=3)
    assert cases == arithmetic_cases(50, seed=3) and cases != arithmetic_cases(50, seed=4)
    for prompt, answer in cases:
        question = prompt.removeprefix(ARITHMETIC_EXAMPLES).removesuffix(" =")
        a, op, b = question.split()
        assert int(answer) == (int(a) + int(b) if op == "+" else int(a) - int(b)) >= 0


# --- suites --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world():
    return load_testbed("world")


def test_world_suite_never_asks_an_edited_fact_and_its_items_do_not_depend_on_the_others(world):
    from amend.requests import fill
    from amend.testbeds.world.generator import TWO_HOP_RELATION

    relations = world.world.relations
    edited = world_facts(world.world, world.requests(1000))  # every person of the world, one fact each
    assert len(edited) == 1000 and len({person for person, _ in edited}) == 1000
    suite = world_abilities(world.world, edited, size=60)
    assert [a.name for a in suite] == ["recall", "reading", "judgement", "two_hop", "fluency"]
    asked = {fill(t, person) for person, rel in edited for t in relations[rel].train}
    asked_two_hop = {fill(t, p) for p, rel in edited if rel == "birth_city" for t in relations[TWO_HOP_RELATION].train}
    for ability in suite[:4]:
        assert len(ability.cases) == 60
        forbidden = asked_two_hop if ability.name == "two_hop" else asked
        assert not any(prompt.endswith(q) for prompt, _ in ability.cases for q in forbidden), ability.name
    alone = world_abilities(world.world, edited, ["reading"], size=60)[0]
    assert alone.cases == suite[1].cases


def test_world_suite_measures_the_unedited_world_model_near_perfect(world):
    lm = language_model(world.model, world.tokenizer, progress=False)
    results = {a.name: a.evaluate(lm) for a in world_abilities(world.world, set(), size=40)}
    assert sum(case[1] == "yes" for case in world_abilities(world.world, set(), ["judgement"])[0].cases) > 30
    # the world model's own recall report: 1.000 on training templates, in-context reading, relevance and two hops
    for name in ("recall", "reading", "judgement", "two_hop"):
        assert results[name].score >= 0.95, (name, results[name].score)
    assert results["fluency"].details["muted"] == 0.0 and results["fluency"].score > 3


def test_text_suite_keeps_only_known_unedited_facts():
    pool = [EditRequest(prompt="{} is in", subject=s, target_new="Y", target_true="X", id=s) for s in "ABCD"]
    edited = [EditRequest(prompt="{} plays", subject="B", target_new="Y", target_true="X", id="e")]
    scores = {("A is in", "X"): ([-0.1], [1], [1]), ("A is in", "Y"): ([-2.0], [1], [2])}
    scores |= {("C is in", "X"): ([-3.0], [1], [1]), ("C is in", "Y"): ([-1.0], [1], [2])}  # not known
    scores |= {("D is in", "X"): ([-0.5], [1], [1]), ("D is in", "Y"): ([-1.0], [1], [2])}
    (known,) = text_abilities(FixedLM({}, scores), pool, edited, ["known_facts"])
    assert [r.subject for r in known.requests] == ["A", "D"]  # B is edited, C is not known
    with pytest.raises(ConfigError, match="no built-in ability"):
        text_abilities(FixedLM({}, scores), pool, edited, ["recall"])


# --- the harness bridge --------------------------------------------------------------------------------------------


def _choice_task(folder, rows) -> str:
    (folder / "items.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (folder / "choices.yaml").write_text(
        "task: amend_choices\n"
        "dataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {folder / 'items.jsonl'}\n"
        "test_split: test\n"
        "output_type: multiple_choice\n"
        'doc_to_text: "{{question}}"\n'
        'doc_to_choice: "{{choices}}"\n'
        "doc_to_target: gold\n"
        "metric_list:\n  - metric: acc\n    aggregation: mean\n    higher_is_better: true\n"
    )
    return "amend_choices"


def test_harness_bridge_scores_a_local_multiple_choice_task_as_counted_by_hand(tmp_path):
    pytest.importorskip("lm_eval")
    from amend.abilities.harness import HarnessAbility

    words = ["red", "blue", "green", "cold", "warm", "fast", "slow", "old", "new", "big", "small", "dark"]
    rng = random.Random(0)
    rows = [
        {"question": f"The {rng.choice(words)} thing is", "choices": rng.sample(words, 4), "gold": rng.randrange(4)}
        for _ in range(20)
    ]
    task = _choice_task(tmp_path, rows)
    lm = language_model(tiny_model("gpt2"), tokenizer(), progress=False)
    result = HarnessAbility(task, include_path=tmp_path).evaluate(lm)
    by_hand = []
    for row in rows:  # the choice with the highest summed log-probability, as lm-eval's acc takes it
        scored = lm.score([(row["question"], f" {c}") for c in row["choices"]])
        totals = [sum(s.logprobs) for s in scored]
        by_hand.append(float(totals.index(max(totals)) == row["gold"]))
    assert result.metric == "acc" and result.n == 20
    assert result.score == pytest.approx(sum(by_hand) / 20)
    assert 0 < result.score < 1  # a random model: neither all right nor all wrong, so the count is checked
    assert [s["acc"] for s in result.samples] == by_hand


def test_harness_bridge_moves_the_space_and_refuses_a_continuation_without_one():
    pytest.importorskip("lm_eval")
    from amend.abilities.harness import _cut, _scored_pair

    @dataclass
    class Request:
        args: tuple
        task_name: str = "t"
        doc_id: int = 3

    assert _scored_pair(Request(("Answer: ", "B"))) == ("Answer:", " B")
    assert _scored_pair(Request(("Answer:", " B"))) == ("Answer:", " B")
    with pytest.raises(ConfigError, match="document 3"):
        _scored_pair(Request(("Answer:", "B")))
    assert _cut("42\n\nQuestion: next", ["\n\n", "Question:"]) == "42"


# --- the run -------------------------------------------------------------------------------------------------------


def _run(world, counts, run_dir=None, resume=False, batch=1):
    requests = world.requests(4)
    setup = EditSetup("memit", method_config("memit", world.model))
    suite = world_abilities(world.world, world_facts(world.world, requests), ["recall", "fluency"], size=10)
    settings = AbilitySettings(counts, batch, run_dir, resume, progress=False)
    return run_abilities(world.model, world.tokenizer, requests, setup, suite, settings)


def _measured(run):
    return [(c["edits"], c["abilities"]) for c in run.checkpoints]


def test_checkpoints_of_one_run_equal_runs_stopped_at_those_counts_and_the_model_is_restored(world):
    before = {k: v.clone() for k, v in world.model.state_dict().items()}
    together = _run(world, (2, 4), batch=2)
    alone = _run(world, (2,), batch=2)
    assert [c["edits"] for c in together.checkpoints] == [0, 2, 4]
    assert _measured(together)[:2] == _measured(alone)
    assert [s for s in together.samples if s["edits"] <= 2] == alone.samples
    assert all(torch.equal(v, before[k]) for k, v in world.model.state_dict().items())
    recall = together.scores("recall")
    assert recall[0][1] == 1.0  # the unedited world model recalls every sampled fact
    with pytest.raises(ConfigError, match="multiples"):
        AbilitySettings((1, 3), 2)


def test_a_resumed_run_continues_the_saved_edits_and_equals_an_uninterrupted_one(world, tmp_path):
    first = _run(world, (1,), tmp_path / "run")
    resumed = _run(world, (1, 3), tmp_path / "run", resume=True)
    straight = _run(world, (1, 3))
    assert _measured(resumed)[:2] == _measured(first)
    assert _measured(resumed) == _measured(straight)
    assert resumed.samples == straight.samples
    with pytest.raises(ConfigError, match="holds a run already"):
        _run(world, (1,), tmp_path / "run")
    other = world.requests(5)[1:]
    suite = world_abilities(world.world, world_facts(world.world, world.requests(4)), ["recall", "fluency"], size=10)
    setup = EditSetup("memit", method_config("memit", world.model))
    with pytest.raises(RunMismatch, match="not the first"):
        run_abilities(
            world.model, world.tokenizer, other, setup, suite, AbilitySettings((1, 3), 1, tmp_path / "run", True)
        )


def test_plot_draws_every_ability_and_the_muting_rate(world, tmp_path):
    run = _run(world, (1,))
    out = plot_abilities([run.to_dict(), {**run.to_dict(), "method": "again"}], tmp_path / "a.png")
    assert out.stat().st_size > 10_000


def test_cli_runs_a_world_study_with_a_harness_task_and_writes_results_samples_and_plot(tmp_path):
    pytest.importorskip("lm_eval")
    from typer.testing import CliRunner

    from amend.cli.app import app

    bed = load_testbed("world")
    edited = {r.subject for r in bed.requests(2)}
    person = next(p for p in bed.world.people if p.name not in edited)
    true = person.facts["birth_city"]
    other = next(city for city in bed.world.relations["birth_city"].objects if city != true)
    question = bed.world.relations["birth_city"].train[0].replace("{}", person.name)
    rows = [{"question": question, "choices": [other, true], "gold": 1}]
    task = _choice_task(tmp_path, rows)
    out = tmp_path / "run"
    args = ["abilities", "--testbed", "world", "--method", "grace", "--count", "2", "--ability", "recall"]
    args += ["--size", "5", "--harness", task, "--harness-include", str(tmp_path), "--out", str(out), "--threads", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = json.loads(next(out.glob("abilities_*.json")).read_text())
    assert [c["edits"] for c in saved["checkpoints"]] == [0, 2]
    assert set(saved["checkpoints"][0]["abilities"]) == {"recall", f"harness/{task}"}
    assert saved["checkpoints"][0]["abilities"][f"harness/{task}"]["score"] == 1.0  # the world model knows it
    assert len(next(out.glob("samples_*.jsonl")).read_text().splitlines()) == 2 * (5 + 1)
    assert (out / "abilities.png").exists()


def test_cli_held_out_fixes_the_items_so_a_resumed_run_can_add_counts(tmp_path):
    from typer.testing import CliRunner

    from amend.cli.app import app

    out = tmp_path / "run"
    base = ["abilities", "--testbed", "world", "--method", "grace", "--ability", "recall", "--size", "5"]
    base += ["--out", str(out), "--threads", "1"]
    first = CliRunner().invoke(app, [*base, "--count", "1", "--held-out", "3"])
    assert first.exit_code == 0, first.output
    more = CliRunner().invoke(app, [*base, "--count", "1", "--count", "3", "--held-out", "3", "--resume"])
    assert more.exit_code == 0, more.output
    saved = json.loads(max(out.glob("abilities_*.json")).read_text())
    assert [c["edits"] for c in saved["checkpoints"]] == [0, 1, 3]  # the resume checks the items' digest
    below = CliRunner().invoke(app, [*base, "--count", "3", "--held-out", "2", "--out", str(tmp_path / "x")])
    assert below.exit_code != 0 and "held-out" in below.output
