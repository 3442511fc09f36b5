"""Seconds per edit of two checkouts of amend on the same inputs, interleaved process by process, in one run.

    git worktree add ../before <commit>          # the code to compare against
    .venv/bin/python bench/before_after.py --before ../before [--models world gpt2-small smollm2]
        [--methods rome memit alphaedit] [--batches 1 10] [--edits 2] [--rounds 2] [--threads 2]

For every model, method and batch size, a worker process per checkout (``PYTHONPATH=<checkout>/src``, this venv's
packages) edits ``--edits`` batches after a warm-up edit (statistics, templates, projectors) and reverts each; the
two checkouts alternate ``--rounds`` times (A B A B), so a drift of the machine's speed reaches both. Each worker
also times one forward of its warm-up edit's rewriting batch (every template row with its target, and the KL
prompts), so "edit / forward" is the edit's cost in forward passes of its own batch. The table gives medians over
rounds; "speed-up" is before / after. The models are those of bench/edit_speed.py, at each checkout's defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def worker(args: argparse.Namespace) -> None:
    """Time the edits in this process (amend imported from PYTHONPATH) and print one JSON line."""
    import time

    import torch

    sys.path.insert(0, str(HERE))
    import amend
    from amend.editing.editor import Editor
    from edit_speed import LAYERS, forward_seconds, load, rewriting_batch

    torch.set_num_threads(args.threads)
    model, tokenizer, requests, corpus = load(args.model, args.batch * (args.edits + 1))
    options = dict((LAYERS.get(args.model) or {}).get("memit" if args.method != "rome" else "rome", {}))
    editor = Editor(model, tokenizer, args.method, corpus=corpus, **options)
    warm = editor.edit(requests[: args.batch])
    templates = warm.log.get("templates")
    editor.revert()
    seconds = []
    for i in range(1, args.edits + 1):
        started = time.perf_counter()
        editor.edit(requests[i * args.batch : (i + 1) * args.batch])
        seconds.append((time.perf_counter() - started) / args.batch)
        editor.revert()
    forward = None
    if templates:
        batch = rewriting_batch(tokenizer, requests[: args.batch], templates, editor.config.kl_prompts)
        forward = forward_seconds(model, batch) / args.batch
    print(json.dumps({"amend": amend.__file__, "seconds": seconds, "forward": forward}))


def run(tree: Path, args: argparse.Namespace, model: str, method: str, batch: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    command = [
        sys.executable, __file__, "--worker", "--model", model, "--method", method, "--batch", str(batch),
        "--edits", str(args.edits), "--threads", str(args.threads),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker in {tree} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not result["amend"].startswith(str(tree.resolve())):
        raise SystemExit(f"the worker imported amend from {result['amend']}, not from {tree}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--before", type=Path, help="The checkout to compare against.")
    parser.add_argument("--after", type=Path, default=HERE.parent, help="The checkout measured (default: this).")
    parser.add_argument("--models", nargs="+", default=["world", "gpt2-small", "smollm2"])
    parser.add_argument("--methods", nargs="+", default=["rome", "memit", "alphaedit"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 10])
    parser.add_argument("--edits", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.before is None:
        parser.error("--before is required")
    print(f"before: {args.before}; after: {args.after}; threads {args.threads}; medians over {args.rounds} rounds")
    print("| model | method | batch | s/edit before | s/edit after | speed-up | edit/forward before | after |")
    print("|---|---|---|---|---|---|---|---|")
    for model in args.models:
        for method in args.methods:
            for batch in args.batches:
                runs: dict[str, list[dict]] = {"before": [], "after": []}
                for _ in range(args.rounds):
                    runs["before"].append(run(args.before, args, model, method, batch))
                    runs["after"].append(run(args.after, args, model, method, batch))
                print(row(model, method, batch, runs), flush=True)


def row(model: str, method: str, batch: int, runs: dict[str, list[dict]]) -> str:
    per_edit = {side: statistics.median(s for r in rs for s in r["seconds"]) for side, rs in runs.items()}
    ratio = {}
    for side, rs in runs.items():
        forwards = [r["forward"] for r in rs if r["forward"]]
        ratio[side] = f"{per_edit[side] / statistics.median(forwards):.0f}" if forwards else "—"
    speed = per_edit["before"] / per_edit["after"]
    return (
        f"| {model} | {method} | {batch} | {per_edit['before']:.2f} | {per_edit['after']:.2f} | {speed:.2f}x "
        f"| {ratio['before']} | {ratio['after']} |"
    )


if __name__ == "__main__":
    main()
