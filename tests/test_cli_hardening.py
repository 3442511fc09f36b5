"""The command line never shows a traceback for a user error, checks what it can before any work, and prints
output a person can read in a log."""

import json
import os
import subprocess
import sys

import torch
from helpers import trained_tiny_model
from typer.testing import CliRunner

from amend.cli.app import app
from amend.testbeds import world

runner = CliRunner()


def _amend(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The console script as a user runs it (main() turns amend errors into one line and exit code 2)."""
    return subprocess.run(
        [sys.executable, "-m", "amend", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_an_error_message_is_printed_as_text_not_markup(tmp_path):
    requests = tmp_path / "edits.json"
    requests.write_text(json.dumps([{"prompt": "{} plays for", "subject": "[/bold] Bob", "target_new": "x"}]))
    bad = [{"prompt": "Ann plays for", "subject": "[/bold] Bob", "target_new": "amend[datasets]"}]
    requests.write_text(json.dumps(bad))
    result = _amend("edit", "--model", "unused", "--requests", str(requests), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "Traceback" not in result.stderr + result.stdout
    assert "'[/bold] Bob' does not occur in the prompt" in result.stdout


def test_an_unwritable_out_is_refused_before_any_work(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = _amend("evaluate", "--model", "not-loaded-before-the-check", "--out", str(blocker / "out"))
    assert result.returncode == 2 and "cannot write to" in result.stdout and "Traceback" not in result.stderr


def test_invalid_json_in_config_is_one_line(tmp_path):
    config = tmp_path / "config.json"
    config.write_text("{layer: 1")
    result = _amend("evaluate", "--testbed", "world", "--config", str(config), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "is not a JSON object of config fields" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_hub_id_without_network_says_how_to_pass_a_folder(tmp_path):
    result = _amend(
        "evaluate", "--model", "someone/some-model", "--out", str(tmp_path / "out"), env={"HF_HUB_OFFLINE": "1"}
    )
    assert result.returncode == 2 and "not available offline" in result.stdout and "--model DIR" in result.stdout
    assert "Traceback" not in result.stderr


def test_world_train_refuses_a_folder_that_holds_files_unless_forced(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["world", "train", "--preset", "tiny", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "is not empty" in str(result.exception) and "--force" in str(result.exception)
    assert (tmp_path / "keep.txt").read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_a_testbed_with_a_requests_file_evaluates_the_file(tmp_path):
    chosen = world.edit_requests(3, seed=7)[1:]
    file = tmp_path / "edits.json"
    file.write_text(json.dumps([r.to_dict() for r in chosen]))
    args = ["evaluate", "--testbed", "world", "--requests", str(file), "--method", "none", "--protocol", "probability"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    saved = json.loads(next((tmp_path / "out").glob("results_*.json")).read_text())
    assert [r["id"] for r in saved["records"]] == [r.id for r in chosen]


def test_tables_are_whole_in_a_log_and_results_record_corpus_and_threads(tmp_path):
    threads = torch.get_num_threads()
    args = ["evaluate", "--testbed", "world", "-n", "1", "--method", "rome", "--set", "v_num_grad_steps=2"]
    result = runner.invoke(app, [*args, "--threads", "1", "--protocol", "probability", "--out", str(tmp_path)])
    torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    assert "…" not in result.output and "(pre " in result.output  # not a terminal: nothing cut to an ellipsis
    saved = json.loads(next(tmp_path.glob("results_*.json")).read_text())
    assert saved["config"]["stats_corpus_used"].startswith("world") and saved["extra"]["threads"] == 1


def test_ls_shows_the_defaults_a_model_will_actually_get(tmp_path):
    shipped = runner.invoke(app, ["ls", "--method", "memit", "--testbed", "world"])
    generic = runner.invoke(app, ["ls", "--method", "memit"])
    assert "100.0" in _row(shipped.output, "mom2_update_weight") and "15000" in _row(generic.output, "mom2_update")
    trained_tiny_model("gpt2").save_pretrained(tmp_path / "tiny")
    folder = runner.invoke(app, ["ls", "--method", "rome", "--model", str(tmp_path / "tiny")])
    assert folder.exit_code == 0 and "for " in folder.output and _row(folder.output, " layer ")


def _row(output: str, field: str) -> str:
    return next(line for line in output.splitlines() if field in line)
