"""Bad inputs and faults, tried as a new user would, each judged: handled well, handled badly, or crashed.

    .venv/bin/python bench/bad_inputs.py [--only WORD] [--json FILE]

Handled well: refused with one of amend's errors (exit code 2 on the command line, no traceback) whose message names
what is wrong (the case's expected words), and nothing changed. Handled badly: accepted, or refused without saying
what. Crashed: a traceback or an error that is not amend's. Command-line cases run ``python -m amend`` in a
subprocess, as a user would; Python cases call the API. A few minutes on two cores (each subprocess imports torch).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


@dataclass
class Case:
    name: str
    expect: str  # words the refusal must contain
    cli: list[str] | None = None
    python: Callable[[Path], object] | None = None
    env: dict[str, str] | None = None


def run_cli(args: list[str], env: dict[str, str] | None) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "amend", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        timeout=900,
    )
    return done.returncode, done.stdout + done.stderr


def judge_cli(case: Case) -> tuple[str, str]:
    code, output = run_cli(case.cli, case.env)
    lines = output.strip().splitlines()
    errors = [line for line in lines if line.startswith(("error:", "Error:", "Invalid value", "│ Invalid"))]
    last = (errors or lines or [""])[-1].strip("│ ")
    if "Traceback" in output or code not in (0, 1, 2):
        return "crashed", last
    if code != 0 and case.expect in output:
        return "well", last
    return "badly", f"exit {code}: {last}"


def judge_python(case: Case, scratch: Path) -> tuple[str, str]:
    from amend.errors import AmendError

    try:
        case.python(scratch)
    except AmendError as err:
        return ("well" if case.expect in str(err) else "badly"), str(err).splitlines()[0][:160]
    except Exception as err:  # the point is to see which errors escape
        return "crashed", f"{type(err).__name__}: {str(err)[:140]}"
    return "badly", "accepted"


# ---- fixtures the cases share ---------------------------------------------------------------------------------------


def prepare(scratch: Path) -> dict[str, Path]:
    """Files the cases read: request files, a saved run and patch on the world model, broken copies of them."""
    import amend

    paths = {}
    good = amend.world.edit_requests(4, seed=0)
    paths["requests"] = scratch / "requests.json"
    paths["requests"].write_text(json.dumps([r.to_dict() for r in good]))
    markup = [{"prompt": "Ann plays for", "subject": "[/bold] Bob", "target_new": "amend[datasets]"}]
    (scratch / "markup.json").write_text(json.dumps(markup))
    same = [{**good[0].to_dict(), "target_new": good[0].target_true}]
    (scratch / "same.json").write_text(json.dumps(same))
    (scratch / "bad-config.json").write_text("{layer: 1")
    (scratch / "list-config.json").write_text("[1, 2]")
    (scratch / "not-json.json").write_text("this is not json")
    (scratch / "a-file").write_text("")
    (scratch / "not-a-model").mkdir()
    (scratch / "full").mkdir()
    (scratch / "full" / "keep.txt").write_text("mine")
    run = ["evaluate", "--testbed", "world", "-n", "4", "--method", "rome", "--mode", "sequential"]
    run += ["--batch-size", "2", "--set", "v_num_grad_steps=2", "--protocol", "probability"]
    run_cli([*run, "--out", str(scratch / "seq")], None)
    patch_out = scratch / "patch"
    run_cli(
        [
            "edit",
            "--model",
            str(amend.world.DATA_DIR),
            "--requests",
            str(paths["requests"]),
            "--out",
            str(patch_out),
            "--set",
            "v_num_grad_steps=2",
        ],
        None,
    )
    for name, change in (("patch-truncated", "json"), ("patch-scaled", "scale"), ("patch-half", "half")):
        shutil.copytree(patch_out, scratch / name)
        _break_patch(scratch / name, change)
    shutil.copytree(scratch / "seq", scratch / "seq-truncated")
    state = scratch / "seq-truncated" / "run" / "editor.json"
    state.write_text(state.read_text()[:200])
    return paths


def _break_patch(folder: Path, change: str) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    if change == "json":
        text = (folder / "patch.json").read_text()
        (folder / "patch.json").write_text(text[: len(text) // 3])
        return
    with safe_open(str(folder / "tensors.safetensors"), framework="pt") as handle:
        header = handle.metadata()
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    tensors = {k: (v * 1000 if change == "scale" else v.half()) for k, v in tensors.items()}
    save_file(tensors, str(folder / "tensors.safetensors"), metadata=header)


def _world_edit(requests, **options):
    import amend

    model, tokenizer, _ = amend.world.load()
    return amend.Editor(model, tokenizer, "rome", v_num_grad_steps=2, **options).edit(requests)


def _request(prompt, subject, new, true=None, rid="r"):
    import amend

    return amend.EditRequest(prompt, subject, new, true, id=rid)


def _other_models_cache(scratch: Path):
    """A statistics file of one model copied where another model's belongs, then used."""
    import amend

    model, tokenizer, _ = amend.world.load()
    cache = scratch / "cache"
    editor = amend.Editor(model, tokenizer, "rome", cache_dir=cache, v_num_grad_steps=2, stats_tokens=2000)
    editor.edit(amend.world.edit_requests(1)).revert()
    with __import__("torch").no_grad():
        model.transformer.h[7].mlp.c_fc.weight.mul_(1.01)  # another model (same architecture)
    for file in cache.rglob("*.safetensors"):
        fingerprint_dir = file.relative_to(cache).parts[0]
        other = amend.fingerprint.fingerprint(model)[:20]
        target = cache / other / file.relative_to(cache / fingerprint_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(file, target)
    amend.Editor(model, tokenizer, "rome", cache_dir=cache, v_num_grad_steps=2, stats_tokens=2000).edit(
        amend.world.edit_requests(1)
    )


def _tampered_run(scratch: Path):
    import amend

    run = scratch / "seq" / "run"
    meta = json.loads((run / "editor.json").read_text())
    meta["config"]["stats_corpus"] = "/etc/passwd"
    copy = scratch / "tampered-run"
    shutil.copytree(run, copy)
    (copy / "editor.json").write_text(json.dumps(meta))
    model, tokenizer, _ = amend.world.load()
    amend.Editor.load(copy, model, tokenizer)


def _multimodal_to_rome(scratch: Path):
    import amend

    request = amend.MultimodalRequest("What is shown?", "a cat", Path("cat.png"), id="mm")
    _world_edit([request])


def cases(scratch: Path) -> list[Case]:
    s = str(scratch)
    world = ["evaluate", "--testbed", "world", "-n", "2", "--method", "none", "--protocol", "probability"]
    out = ["--out", f"{s}/out"]
    resume = ["evaluate", "--testbed", "world", "--method", "rome", "--mode", "sequential", "--protocol", "probability"]
    resume += ["--set", "v_num_grad_steps=2", "--resume", "--out", f"{s}/seq"]
    return [
        Case("unknown method", "Did you mean 'memit'", cli=[*world[:-4], "--method", "memt", *out]),
        Case(
            "unknown config field",
            "did you mean 'layer'",
            cli=[*world[:-4], "--method", "rome", "--set", "layr=0", *out],
        ),
        Case(
            "non-numeric --set",
            "v_lr must be a float",
            cli=[*world[:-4], "--method", "rome", "--set", "v_lr=abc", *out],
        ),
        Case(
            "negative lambda",
            "must not be negative",
            cli=[*world[:-4], "--method", "memit", "--set", "mom2_update_weight=-1", *out],
        ),
        Case("NaN in config", "must be finite", cli=[*world[:-4], "--method", "rome", "--set", "v_lr=NaN", *out]),
        Case("-n 0", "Invalid value", cli=["evaluate", "--testbed", "world", "-n", "0", *out]),
        Case("--forward-batch-size 0", "Invalid value", cli=[*world, "--forward-batch-size", "0", *out]),
        Case("--batch-size 0", "Invalid value", cli=[*world, "--batch-size", "0", *out]),
        Case("misspelt mode", "mode must be one of", cli=[*world, "--mode", "sequentail", *out]),
        Case("unknown task", "Did you mean 'edit'", cli=[*world, "--task", "edits", *out]),
        Case("unknown testbed", "Did you mean 'world'", cli=["evaluate", "--testbed", "wrld", *out]),
        Case("unknown protocol", "unknown protocol", cli=[*world[:-2], "--protocol", "f1", *out]),
        Case("invalid JSON config", "not a JSON object", cli=[*world, "--config", f"{s}/bad-config.json", *out]),
        Case("JSON list as config", "must hold a JSON object", cli=[*world, "--config", f"{s}/list-config.json", *out]),
        Case("unwritable --out", "cannot write to", cli=[*world, "--out", f"{s}/a-file/out"]),
        Case("hub id offline", "not available offline", cli=["evaluate", "--model", "someone/a-model", *out]),
        Case("folder that is no model", "not a model folder", cli=["evaluate", "--model", f"{s}/not-a-model", *out]),
        Case("--testbed-dir without --testbed", "--testbed", cli=["evaluate", "--testbed-dir", s, *out]),
        Case(
            "multimodal dataset",
            "no evaluation task reads multimodal",
            cli=[*world, "--dataset", "mmedit-e-vqa", "--path", f"{SHARED}/mmedit-e-vqa", *out],
        ),
        Case(
            "document dataset",
            "no evaluation task reads document",
            cli=[*world, "--dataset", "docmedit", "--path", s, *out],
        ),
        Case(
            "misspelt dataset", "Did you mean 'counterfact'", cli=[*world, "--dataset", "countrfact", "--path", s, *out]
        ),
        Case(
            "dataset file missing",
            "missing.json",
            cli=[*world, "--dataset", "counterfact", "--path", f"{s}/missing.json", *out],
        ),
        Case(
            "dataset file not JSON",
            "not-json.json",
            cli=[*world, "--dataset", "counterfact", "--path", f"{s}/not-json.json", *out],
        ),
        Case(
            "markup in a record",
            "'[/bold] Bob' does not occur",
            cli=["edit", "--model", "unused", "--requests", f"{s}/markup.json", *out],
        ),
        Case("target_new equals target_true", "equals target_true", cli=[*world, "--requests", f"{s}/same.json", *out]),
        Case(
            "train into a non-empty folder",
            "is not empty",
            cli=["world", "train", "--preset", "tiny", "--out", f"{s}/full"],
        ),
        Case(
            "truncated patch.json",
            "patch.json is not valid JSON",
            cli=["apply", f"{s}/patch-truncated", "--model", "unused", "--save-model", f"{s}/m"],
        ),
        Case(
            "patch deltas x1000",
            "do not match the digest",
            cli=["apply", f"{s}/patch-scaled", "--model", "unused", "--save-model", f"{s}/m"],
        ),
        Case(
            "patch deltas cast to fp16",
            "do not match the digest",
            cli=["apply", f"{s}/patch-half", "--model", "unused", "--save-model", f"{s}/m"],
        ),
        Case(
            "resume with another seed",
            "requests: not the ones",
            cli=[*resume, "-n", "4", "--batch-size", "2", "--seed", "1"],
        ),
        Case(
            "resume with another batch size",
            "edit_batch_size: saved 2, now 1",
            cli=[*resume, "-n", "4", "--batch-size", "1"],
        ),
        Case("resume with another -n", "requests: saved 4, now 3", cli=[*resume, "-n", "3", "--batch-size", "2"]),
        Case(
            "resume with another config",
            "config.v_lr",
            cli=[*resume, "-n", "4", "--batch-size", "2", "--set", "v_lr=0.1"],
        ),
        Case(
            "resume a truncated editor.json",
            "editor.json is not valid JSON",
            cli=[*resume[:-1], f"{s}/seq-truncated", "-n", "4", "--batch-size", "2"],
        ),
        Case("misspelt method in ls", "Did you mean 'memit'", cli=["ls", "--method", "memt"]),
        Case(
            "ls --model that is no model",
            "not a model folder",
            cli=["ls", "--method", "rome", "--model", f"{s}/missing"],
        ),
        Case(
            "prompt longer than the context",
            "longer than the model's context",
            python=lambda _: _world_edit([_request("Rain fell. " * 200 + "{} was born in", "Ken", "Paris")]),
        ),
        Case(
            "subject of unknown tokens",
            "only unknown tokens",
            python=lambda _: _world_edit([_request("{} was born in", "Zorblax Quuxington", "Paris")]),
        ),
        Case(
            "two targets in one batch",
            "conflicts with record",
            python=lambda _: _world_edit(
                [
                    _request("{} was born in", "Ken", "Paris", rid="a"),
                    _request("{} was born in", "Ken", "Rome", rid="b"),
                ]
            ),
        ),
        Case("integer stats dtype", "int8", python=lambda _: _world_edit([], stats_dtype="int8")),
        Case("another model's statistics", "another model", python=_other_models_cache),
        Case("tampered run gives a corpus path", "paths are not taken", python=_tampered_run),
        Case("two placeholders", "placeholders", python=lambda _: _request("{} and {}", "Ken", "Paris")),
        Case("subject not in prompt", "does not occur in the prompt", python=lambda _: _request("Ann", "Ken", "x")),
        Case("multimodal request to ROME", "edits edit requests", python=_multimodal_to_rome),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="Run the cases whose name contains this word.")
    parser.add_argument("--json", type=Path, help="Also write the verdicts to this JSON file.")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    verdicts = []
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        prepare(scratch)
        for case in cases(scratch):
            if args.only and args.only not in case.name:
                continue
            verdict, detail = judge_cli(case) if case.cli else judge_python(case, scratch)
            kind = "cli" if case.cli else "python"
            verdicts.append({"case": case.name, "kind": kind, "verdict": verdict, "detail": detail})
            print(f"{verdict:8s} {kind:6s} {case.name}: {detail}", flush=True)
    counts = {v: sum(1 for x in verdicts if x["verdict"] == v) for v in ("well", "badly", "crashed")}
    print(
        f"\n{len(verdicts)} inputs tried: {counts['well']} handled well, {counts['badly']} handled badly, "
        f"{counts['crashed']} crashed ({time.perf_counter() - started:.0f} s)"
    )
    if args.json:
        args.json.write_text(json.dumps(verdicts, indent=2))


if __name__ == "__main__":
    main()
