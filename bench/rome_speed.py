"""ROME speed on a GPT-2-small-shaped (124M) random model: seconds per edit against one batched forward.

    .venv/bin/python bench/rome_speed.py [--edits 5] [--threads 2]

Prints the seconds per edit (statistics precomputed and cached first, as in any real run), the forward and
backward passes one edit spends, and the time of one batched forward over the same prompts (the 21 context
templates + the KL prompt). Their ratio is the figure we track: it says how many "forwards' worth" an edit costs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

import amend
from amend.methods.locate.prompts import template_rows
from amend.methods.locate.templates import sample_context_templates
from amend.methods.rome.config import RomeConfig
from amend.stats import Corpus
from amend.tokens import pad_id, pad_right

NAMES = ["Ada Brook", "Milo Crane", "Iris Vale", "Otto Ferris", "Lena Marsh", "Hugo Penn", "Nora Quill", "Ezra Stone"]
FRAMES = ["{} was born in", "The mother tongue of {} is", "{} works for", "{} plays the", "{} is a citizen of"]
OBJECTS = ["Paris", "Rome", "Tokyo", "Nokia", "Google", "piano", "guitar", "French", "English", "Spain", "Peru"]


def texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(f"{rng.choice(FRAMES).format(rng.choice(NAMES))} {rng.choice(OBJECTS)}." for _ in range(12))
        for _ in range(n)
    ]


def build_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=2000, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts(500), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>")


def requests(n: int) -> list[amend.EditRequest]:
    rng = random.Random(1)
    return [amend.EditRequest(rng.choice(FRAMES), NAMES[i % len(NAMES)], rng.choice(OBJECTS)) for i in range(n)]


def one_batched_forward(model, tok, request, config) -> float:
    """Seconds of one no-grad forward over the prompts an edit of ``request`` optimises over (median of 5)."""
    templates = sample_context_templates(model, tok, config.template_lengths, seed=config.template_seed).flat()
    rows = [row.ids for row in template_rows(tok, [request], [*templates, *config.kl_prompts], "subject_last")]
    batch = pad_right(rows, pad_id(tok))
    times = []
    with torch.no_grad():
        for _ in range(5):
            start = time.perf_counter()
            model(**batch.model_inputs())
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config()).eval()  # GPT-2 small shape: 12 layers, 768 wide, 124M parameters
    tok = build_tokenizer()
    corpus = Corpus.from_texts(texts(400, seed=2))
    config = RomeConfig.for_model(model, stats_tokens=60_000)
    cache = tempfile.mkdtemp(prefix="amend-bench-")
    calls = {"forward": 0}
    counter = model.base_model.register_forward_pre_hook(lambda *_: calls.__setitem__("forward", calls["forward"] + 1))
    try:
        start = time.perf_counter()
        amend.edit(model, tok, requests(1), "rome", corpus=corpus, cache_dir=cache, stats_tokens=60_000).revert()
        first = time.perf_counter() - start
        calls["forward"] = 0
        start = time.perf_counter()
        patch = amend.edit(
            model, tok, requests(args.edits), "rome", corpus=corpus, cache_dir=cache, stats_tokens=60_000
        )
        per_edit = (time.perf_counter() - start) / args.edits
    finally:
        counter.remove()
    patch.revert()
    log = patch.log["requests"]
    forward = one_batched_forward(model, tok, requests(1)[0], config)
    print(
        f"model: GPT-2 small shape, {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters, "
        f"layer {config.layer}, {args.threads} thread(s)"
    )
    print(f"first edit incl. statistics ({config.stats_tokens} tokens): {first:.2f} s")
    print(f"seconds per edit (statistics cached, {args.edits} edits): {per_edit:.2f} s")
    print(
        f"forward passes per edit (all, incl. templates and keys): {calls['forward'] / args.edits:.1f}; "
        f"optimisation: {statistics.mean(r['forward_passes'] for r in log):.1f} forward, "
        f"{statistics.mean(r['backward_passes'] for r in log):.1f} backward"
    )
    print(f"one batched forward over the same {len(patch.log['templates']) + 1} prompts: {forward * 1000:.1f} ms")
    print(f"ratio seconds-per-edit / batched-forward: {per_edit / forward:.1f}")


if __name__ == "__main__":
    main()
