"""MEMIT and AlphaEdit speed: seconds per edit at batch sizes 1, 10 and 100, and the share spent optimising targets.

    .venv/bin/python bench/batch_speed.py [--model world|gpt2-small|both] [--threads 2]

Statistics are computed and cached before timing (as in any real run). For each method and batch size it edits one
batch, prints seconds per edit and the share of the time spent in the target-vector optimisation (the batched
forward/backward loop), and reverts.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

import amend
from amend.testbeds import world
from amend.testbeds.world.defaults import stats_corpus
from rome_speed import FRAMES, NAMES, OBJECTS, build_tokenizer, texts


def gpt2_small():
    torch.manual_seed(0)
    model, tok = GPT2LMHeadModel(GPT2Config()).eval(), build_tokenizer()
    rng = random.Random(3)
    names = [
        f"{a} {b}"
        for a in NAMES
        for b in ["Lee", "Moss", "Hart", "Kent", "Rowe", "Sage", "Wynn", "Dale", "Fenn", "Gale", "Holt", "Ives", "Lark"]
    ]
    requests = [amend.EditRequest(rng.choice(FRAMES), name, rng.choice(OBJECTS)) for name in names[:100]]
    return model, tok, requests, texts(400, seed=2), {}


def world_model():
    model, tok, facts = world.load()
    return model, tok, world.edit_requests(100, seed=0, world=facts), stats_corpus(facts), {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["world", "gpt2-small", "both"], default="both")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    loaders = {"world": world_model, "gpt2-small": gpt2_small}
    names = list(loaders) if args.model == "both" else [args.model]
    print(f"{'model':<11} {'method':<10} {'batch':>5} {'s/edit':>8} {'target share':>12}")
    for name in names:
        model, tok, requests, corpus, settings = loaders[name]()
        cache = tempfile.mkdtemp(prefix="amend-bench-")
        for method in ("memit", "alphaedit"):
            options = dict(corpus=corpus, cache_dir=cache, stats_tokens=60_000, **settings)
            amend.edit(model, tok, requests[:1], method, **options).revert()  # statistics, projectors
            for size in args.sizes:
                start = time.perf_counter()
                patch = amend.edit(model, tok, requests[:size], method, **options)
                seconds = time.perf_counter() - start
                patch.revert()
                share = patch.log["target_seconds"] / seconds
                print(f"{name:<11} {method:<10} {size:>5} {seconds / size:>8.3f} {share:>12.0%}")


if __name__ == "__main__":
    main()
