import json
import subprocess
import sys

import pytest
import torch
from helpers import ROME_TEST_SETTINGS, corpus, edit_request, tokenizer, trained_tiny_model, world_like_requests
from transformers import AutoModelForCausalLM
from typer.testing import CliRunner

from amend.cli.app import app

runner = CliRunner()


@pytest.fixture
def saved_model(tmp_path):
    path = tmp_path / "tiny-gpt2"
    trained_tiny_model("gpt2").save_pretrained(path)
    tokenizer().save_pretrained(path)
    (tmp_path / "corpus.txt").write_text("\n".join(corpus()))
    (tmp_path / "edits.json").write_text(json.dumps([edit_request("{} works for", "Apple A5").to_dict()]))
    return path


def test_help_on_every_command():
    for args in ([], ["edit"], ["apply"], ["ls"], ["demo"]):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_ls_lists_methods_and_architectures_and_method_fields():
    listing = runner.invoke(app, ["ls"])
    assert listing.exit_code == 0 and "rome" in listing.output and "gpt_neox" in listing.output
    fields = runner.invoke(app, ["ls", "--method", "rome"])
    assert fields.exit_code == 0 and "mom2_adjustment" in fields.output


def test_edit_writes_a_patch_and_the_model_and_apply_reproduces_it(saved_model, tmp_path):
    overrides = [f"--set={k}={json.dumps(v)}" for k, v in ROME_TEST_SETTINGS.items()]
    result = runner.invoke(
        app,
        [
            "edit",
            "--model",
            str(saved_model),
            "--requests",
            str(tmp_path / "edits.json"),
            "--out",
            str(tmp_path / "out"),
            "--corpus",
            str(tmp_path / "corpus.txt"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--save-model",
            *overrides,
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "patch.json").exists() and (tmp_path / "out" / "model" / "config.json").exists()
    applied = runner.invoke(
        app, ["apply", str(tmp_path / "out"), "--model", str(saved_model), "--save-model", str(tmp_path / "applied")]
    )
    assert applied.exit_code == 0, applied.output
    edited = AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "model")
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "applied")
    original = AutoModelForCausalLM.from_pretrained(saved_model)
    assert all(torch.equal(a, b) for a, b in zip(edited.parameters(), again.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(edited.parameters(), original.parameters(), strict=True))


def test_a_bad_request_file_exits_2_naming_file_record_and_field(saved_model, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            [
                {"prompt": "{} works for", "subject": "Apple A5", "target_new": "Nokia"},
                {"prompt": "Paris is big", "subject": "Rome", "target_new": "x"},
            ]
        )
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "amend",
            "edit",
            "--model",
            str(saved_model),
            "--requests",
            str(bad),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "bad.json" in done.stdout and "record 1" in done.stdout and "'subject'" in done.stdout


def test_sequential_evaluate_and_plot(saved_model, tmp_path):
    requests = tmp_path / "seq.json"
    requests.write_text(json.dumps([r.to_dict() for r in world_like_requests(4)]))
    overrides = [f"--set={k}={json.dumps(v)}" for k, v in ROME_TEST_SETTINGS.items()]
    common = [
        "--model",
        str(saved_model),
        "--requests",
        str(requests),
        "--corpus",
        str(tmp_path / "corpus.txt"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--mode",
        "sequential",
        "--batch-size",
        "2",
        "--checkpoint-every",
        "1",
        "--protocol",
        "probability",
        *overrides,
    ]
    result = runner.invoke(app, ["evaluate", *common, "--out", str(tmp_path / "seq")])
    assert result.exit_code == 0, result.output
    assert "reliability" in result.output and (tmp_path / "seq" / "run" / "editor.json").exists()
    saved = json.loads(next((tmp_path / "seq").glob("results_*.json")).read_text())
    assert [c["edits"] for c in saved["extra"]["checkpoints"]] == [2, 4]
    plotted = runner.invoke(app, ["plot", str(tmp_path / "seq"), "--out", str(tmp_path / "seq.png")])
    assert plotted.exit_code == 0, plotted.output
    assert (tmp_path / "seq.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_world_dir_uses_that_world_model(tmp_path):
    """`--testbed world --testbed-dir` evaluates a world model the user trained (a one-epoch tiny one), not the shipped
    model."""
    from dataclasses import replace

    from amend.testbeds import world
    from amend.testbeds.world.train import PRESETS, train

    trained = tmp_path / "world"
    train(replace(PRESETS["tiny"], epochs=1, eval_limit=20), trained, progress=False)
    out = tmp_path / "run"
    args = [
        "evaluate",
        "--testbed",
        "world",
        "--testbed-dir",
        str(trained),
        "--method",
        "none",
        "-n",
        "3",
        "--protocol",
        "probability",
    ]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    saved = json.loads(next(out.glob("results_*.json")).read_text())
    tiny = world.load(trained)[0]
    assert saved["model"]["parameters"] == sum(p.numel() for p in tiny.parameters())  # the shipped one has 1.8 M
    assert len(saved["records"]) == 3


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (["--testbed", "world", "--method", "rome", "--set", "layr=0"], "'layr': did you mean 'layer'"),
        (["--testbed", "world", "--method", "memt"], "unknown method 'memt'. Did you mean 'memit'"),
        (["--testbed", "wrld"], "unknown testbed 'wrld'. Did you mean 'world'"),
        (["--testbed", "world", "--task", "edits"], "unknown task 'edits'. Did you mean 'edit'"),
        (["--testbed", "world", "--mode", "sequentail"], "mode must be one of"),
    ],
)
def test_evaluate_refuses_unknown_names_at_the_boundary(tmp_path, args, refusal):
    """Refused before any edit or evaluation is run, naming the closest valid name (main() prints it, exit 2)."""
    result = runner.invoke(app, ["evaluate", *args, "-n", "1", "--out", str(tmp_path)])
    assert result.exit_code != 0 and refusal in str(result.exception)
    assert not list(tmp_path.glob("results_*.json"))
