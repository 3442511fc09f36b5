"""The filter to records a model knows: a hand-computed comparison, and the world model on swapped facts."""

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from amend.cli.app import app
from amend.errors import ConfigError
from amend.evaluation.known import known_mask, known_requests
from amend.lm import CausalLM, Scored
from amend.requests import EditRequest


class FixedScores:
    """A language model whose mean NLL of each answer is given."""

    def __init__(self, nll: dict[str, list[float]]):
        self.nll = nll

    def score(self, pairs):
        return [self._scored(self.nll[answer]) for _, answer in pairs]

    @staticmethod
    def _scored(nll: list[float]) -> Scored:
        return Scored((1,) * len(nll), tuple(-x for x in nll), (1,) * len(nll))


def test_known_compares_mean_token_nll_of_true_and_new():
    lm = FixedScores({"Paris": [0.5, 1.5], "Rome": [1.2], "Oslo": [0.9, 0.9, 1.3]})  # means 1.0, 1.2, 1.033
    a = EditRequest("{} is in", "X", target_new="Rome", target_true="Paris")  # 1.0 < 1.2: known
    b = EditRequest("{} is in", "Y", target_new="Paris", target_true="Rome")  # 1.2 > 1.0: not known
    c = EditRequest("{} is in", "Z", target_new="Oslo", target_true="Paris")  # 1.0 < 1.033 (sums would say no)
    assert known_mask(lm, [a, b, c]) == [True, False, True]
    with pytest.raises(ConfigError, match="no target_true"):
        known_mask(lm, [EditRequest("{} is in", "W", target_new="Rome")])


def test_the_world_model_knows_its_facts_and_not_their_swaps(tmp_path):
    from amend.testbeds import load

    world = load("world")
    requests = world.requests(12, seed=0)
    swapped = [
        dataclasses.replace(r, target_new=r.target_true, target_true=r.target_new) if i % 2 else r
        for i, r in enumerate(requests)
    ]
    lm = CausalLM(world.model, world.tokenizer)
    assert known_mask(lm, swapped) == [i % 2 == 0 for i in range(12)]
    assert [r.record_id for r in known_requests(lm, swapped)] == [r.record_id for r in requests[::2]]
    file = tmp_path / "requests.json"
    file.write_text(json.dumps([r.to_dict() for r in swapped]))
    args = ["evaluate", "--testbed", "world", "--requests", str(file), "--method", "none", "--known"]
    result = CliRunner().invoke(app, [*args, "--num-edits", "4", "--protocol", "probability", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    saved = json.loads(next(tmp_path.glob("results_*.json")).read_text())
    assert saved["extra"]["known_filter"] == {"known": 6, "of": 12}
    assert [r["id"] for r in saved["records"]] == [r.record_id for r in requests[0:8:2]]
    assert all(r["reliability"]["probability"] == 0.0 for r in saved["records"])  # known: the new object loses
