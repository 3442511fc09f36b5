"""Seconds per edit against the physical limit of the edit, with and without the partial forward, in one run.

    .venv/bin/python bench/edit_speed.py [--models world gpt2-small smollm2] [--methods rome memit alphaedit]
                                         [--batches 1 10] [--edits 3] [--threads 2] [--templates 0|N]

For each model, method and batch size: the seconds per edit of amend's default path (target vectors optimised on
the part of the network they can change, ``v_reuse_frozen=True``) and of the full forward every step
(``v_reuse_frozen=False``), interleaved, and the seconds of one forward of the edit's rewriting batch (every
template row with its target, and the KL prompts, no grad), so that "edit / forward" is the edit's cost in forward
passes of its own batch. Statistics are computed once before timing (and cached); the context templates are fixed
(``--templates N`` gives N short templates plus the bare prompt, as the originals' 10+10 sampled ones but without
sampling; 0 keeps each model's default). Models: the world testbed; a randomly initialised GPT-2-small-shaped model
(12 layers, 768 wide) with SmolLM2's tokenizer; SmolLM2-135M (the smollm2 testbed, its first known CounterFact
records). Run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from amend.datasets import load as load_dataset
from amend.editing.editor import Editor
from amend.evaluation.known import known_requests
from amend.lm import CausalLM
from amend.requests import EditRequest, fill
from amend.stats import Corpus
from amend.testbeds import load as load_testbed
from amend.tokens import encode, pad_id, pad_right, target_ids

COUNTERFACT = "../shared/data/counterfact-easyedit/counterfact-val.first300.json"
LAYERS = {"world": None, "gpt2-small": {"rome": {"layer": 5}, "memit": {"layers": [3, 4, 5, 6, 7]}}, "smollm2": None}


def load(name: str, count: int):
    """(model, tokenizer, requests, corpus or None) of a benchmark model."""
    if name == "world":
        bed = load_testbed("world")
        return bed.model, bed.tokenizer, bed.requests(count), None
    smol = load_testbed("smollm2")
    requests = known_requests(CausalLM(smol.model, smol.tokenizer), load_dataset("counterfact-easyedit", COUNTERFACT))
    if name == "smollm2":
        return smol.model, smol.tokenizer, requests[:count], None
    torch.manual_seed(0)
    config = GPT2Config(n_layer=12, n_embd=768, n_head=12, vocab_size=len(smol.tokenizer), n_positions=1024)
    texts = [line for request in requests for line in (request.text, *(r.prompt for r in request.rephrase))][:400]
    return GPT2LMHeadModel(config).eval(), smol.tokenizer, requests[:count], Corpus.from_texts(texts * 20)


def rewriting_batch(tokenizer, requests: Sequence[EditRequest], templates: Sequence[str], kl_prompts: Sequence[str]):
    rows = []
    for request in requests:
        for template in templates:
            prompt, target = target_ids(
                tokenizer, fill(fill(template, request.prompt), request.subject), request.target_new
            )
            rows.append(prompt + target[:-1])
        rows += [encode(tokenizer, fill(kl, request.subject)) for kl in kl_prompts]
    return pad_right(rows, pad_id(tokenizer))


def forward_seconds(model, batch, repeats: int = 5) -> float:
    with torch.no_grad():
        model(**batch.model_inputs())
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            model(**batch.model_inputs())
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["world", "gpt2-small", "smollm2"])
    parser.add_argument("--methods", nargs="+", default=["rome", "memit", "alphaedit"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 10])
    parser.add_argument("--edits", type=int, default=3, help="timed edits (batches) per setting and path")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--templates", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads {args.threads}; seconds per edit (median of {args.edits} batches, each reverted)")
    print("| model | method | batch | s/edit partial | s/edit full | speed-up | s/forward of batch | edit/forward |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.models:
        need = max(args.batches) * (args.edits + 1)
        model, tokenizer, requests, corpus = load(name, need)
        for method in args.methods:
            for size in args.batches:
                row = time_setting(model, tokenizer, requests, corpus, name, method, size, args)
                print(row, flush=True)


def time_setting(model, tokenizer, requests, corpus, name, method, size, args) -> str:
    options = dict((LAYERS.get(name) or {}).get("memit" if method != "rome" else "rome", {}))
    if args.templates:
        options["context_templates"] = [f"Note {i}: the text reads. {{}}" for i in range(args.templates)]
    editors = {
        reuse: Editor(model, tokenizer, method, corpus=corpus, v_reuse_frozen=reuse, **options)
        for reuse in (True, False)
    }
    warm = editors[True].edit(requests[:size])  # statistics, projectors, templates
    templates = warm.log["templates"]
    editors[True].revert()
    seconds: dict[bool, list[float]] = {True: [], False: []}
    for i in range(1, args.edits + 1):
        batch = requests[i * size : (i + 1) * size]
        for reuse, editor in editors.items():
            started = time.perf_counter()
            editor.edit(batch)
            seconds[reuse].append((time.perf_counter() - started) / size)
            editor.revert()
    config = editors[True].config
    forward = forward_seconds(model, rewriting_batch(tokenizer, requests[:size], templates, config.kl_prompts)) / size
    partial, full = statistics.median(seconds[True]), statistics.median(seconds[False])
    return (
        f"| {name} | {method} | {size} | {partial:.2f} | {full:.2f} | {full / partial:.2f}x | {forward * 1000:.1f} ms "
        f"| {partial / forward:.0f} |"
    )


if __name__ == "__main__":
    main()
