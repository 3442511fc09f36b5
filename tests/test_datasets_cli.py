"""`amend validate`, `amend evaluate --dataset`, and the world's CounterFact export, end to end."""

import json

import pytest
from helpers import facts, tokenizer, trained_tiny_model
from typer.testing import CliRunner

from amend import ConfigError, RecordError, datasets
from amend.cli.app import app
from amend.errors import DatasetError

runner = CliRunner()


def test_world_counterfact_export_evaluated_with_rome_end_to_end(tmp_path):
    exported = tmp_path / "world_cf.json"
    done = runner.invoke(app, ["world", "export-counterfact", str(exported), "-n", "3", "--seed", "2"])
    assert done.exit_code == 0, done.output
    records = json.loads(exported.read_text())
    assert [r["case_id"] for r in records] == [0, 1, 2]
    checked = runner.invoke(app, ["validate", "--dataset", "counterfact", str(exported)])
    assert checked.exit_code == 0 and "3 records as counterfact: 3 requests, 0 skipped, 0 invalid" in checked.output
    out = tmp_path / "run"
    args = ["evaluate", "--testbed", "world", "--dataset", "counterfact", "--path", str(exported), "--method", "rome"]
    args += ["--protocol", "probability", "--cache-dir", str(tmp_path / "cache"), "--out", str(out)]
    args += ["--generation", "top_k", "--generation-option", "max_new_tokens=12", "--generation-option", "seed=3"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = json.loads(next(out.glob("results_*.json")).read_text())
    assert [r["id"] for r in saved["records"]] == [0, 1, 2]
    assert saved["summary"]["reliability"]["probability"]["records"] == 3
    assert saved["summary"]["reliability"]["probability"]["mean"] >= 2 / 3  # ROME writes world facts (0.99 on 100)
    assert saved["pre_summary"]["reliability"]["probability"]["mean"] == 0.0  # counterfactual before the edit
    neighbours = sum(len(r["neighborhood_prompts"]) for r in records)
    assert saved["summary"]["locality_agreement/neighborhood"]["probability"]["prompts"] == neighbours
    assert saved["extra"]["generation"] == {"sampling": "top_k", "top_k": 5, "seed": 3, "max_new_tokens": 12}
    assert saved["summary"]["fluency"]["generation"]["records"] == 3
    samples = [json.loads(line) for line in next(out.glob("samples_*.jsonl")).read_text().splitlines()]
    generated = [s for s in samples if s["metric"] == "generation"]
    assert len(generated) == sum(len(r["generation_prompts"]) for r in records)
    assert all(s["after"]["generation"] for s in generated)


def _flat_records() -> list[dict]:
    """EasyEdit-format CounterFact records about the facts the tiny test model knows."""
    table = facts()
    frame, subjects = "The mother tongue of {} is", ["Danielle Darrieux", "Toko Yasuda", "Apple A5"]
    return [
        {
            "case_id": 10 + i,
            "prompt": frame.format(s),
            "subject": s,
            "target_new": "Tokyo" if table[(frame, s)] != "Tokyo" else "Paris",
            "ground_truth": table[(frame, s)],
            "rephrase_prompt": "Rain fell. " + frame.format(s),
            "locality_prompt": frame.format("Honus Wagner"),
            "locality_ground_truth": table[(frame, "Honus Wagner")],
        }
        for i, s in enumerate(subjects)
    ]


@pytest.fixture
def flat_file(tmp_path):
    records = _flat_records()
    records[1]["subject"] = "Toko"  # still in the prompt: valid
    del records[2]["ground_truth"]
    path = tmp_path / "cf_flat.json"
    path.write_text(json.dumps(records, indent=4).replace("\n", "\r\n"))
    return path


def test_validate_lists_every_bad_record_and_exits_1(tmp_path):
    records = _flat_records() * 2
    records[1] = {**records[1], "subject": "Nobody"}
    records[4] = {**records[4], "locality_prompt": 3}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(records))
    result = runner.invoke(app, ["validate", "--dataset", "counterfact-easyedit", str(path)])
    assert result.exit_code == 1
    assert "6 records as counterfact-easyedit: 4 requests, 0 skipped, 2 invalid" in result.output
    assert "record 1 (id 11), field 'subject'" in result.output
    assert "record 4 (id 11), field 'locality_prompt': must be a string, got int" in result.output


def test_validate_reports_convention_skips(tmp_path):
    base = {"subject": "Ada", "src": "Where was Ada born?", "rephrase": "Ada's birthplace?", "answers": ["London"],
            "loc": "nq question: x", "loc_ans": "y"}  # fmt: skip
    path = tmp_path / "z.jsonl"
    path.write_text("\n".join(json.dumps({**base, "alt": alt}) for alt in ["", "Paris"]))
    args = ["validate", "--dataset", "zsre", str(path), "--dataset-option", "target=alt"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "1 requests, 1 skipped, 0 invalid" in result.output
    assert "skipped record 0" in result.output


def test_evaluate_stops_at_a_bad_record_unless_told_to_skip(flat_file, tmp_path):
    model = tmp_path / "tiny"
    trained_tiny_model("gpt2").save_pretrained(model)
    tokenizer().save_pretrained(model)
    args = ["evaluate", "--model", str(model), "--dataset", "counterfact-easyedit", "--path", str(flat_file)]
    args += ["--method", "none", "--out", str(tmp_path / "out")]
    stopped = runner.invoke(app, args)
    assert isinstance(stopped.exception, RecordError) and stopped.exception.field == "ground_truth"
    assert stopped.exception.index == 2 and stopped.exception.record_id == 12
    went_on = runner.invoke(app, [*args, "--skip-invalid"])
    assert went_on.exit_code == 0, went_on.output
    assert "2 requests, 0 skipped, 1 invalid" in went_on.output and "record 2 (id 12)" in went_on.output
    saved = json.loads(next((tmp_path / "out").glob("results_*.json")).read_text())
    assert [r["id"] for r in saved["records"]] == [10, 11]


def test_a_multimodal_dataset_is_refused_by_the_text_task_and_read_by_its_own(tmp_path):
    from amend.cli.datasets import dataset_requests

    with pytest.raises(ConfigError, match="which task 'edit' does not read; use --task multimodal"):
        dataset_requests("mmedit-e-vqa", tmp_path / "missing.json", None, False, "edit")
    with pytest.raises(DatasetError, match="no such file"):  # accepted: then the file is read
        dataset_requests("mmedit-e-vqa", tmp_path / "missing.json", None, False, None)


@pytest.mark.parametrize(("dataset", "kind"), [("docmedit", "document")])
def test_evaluate_refuses_a_dataset_only_when_no_task_reads_its_requests(tmp_path, dataset, kind):
    from amend.cli.datasets import dataset_requests

    with pytest.raises(ConfigError, match=f"no evaluation task reads {kind} requests"):
        dataset_requests(dataset, tmp_path / "missing.json", None, False, "edit")  # refused before the file is read
    assert datasets.dataset_format(dataset).produces == kind
    result = CliRunner().invoke(app, ["evaluate", "--model", "x", "--dataset", dataset, "--path", str(tmp_path)])
    assert result.exit_code != 0 and f"no evaluation task reads {kind} requests" in str(result.exception)
    assert "amend documents" in str(result.exception)
