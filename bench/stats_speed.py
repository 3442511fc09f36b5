"""Tokens per second of the key statistics against a plain forward of the model over the same tokens.

    .venv/bin/python bench/stats_speed.py [--tokens 16384] [--layers 4 5 6 7 8] [--threads 2] [--repeats 3]

On SmolLM2 (the smollm2 testbed) and its sampled statistics corpus (cached under $AMEND_CACHE; the first run
generates it, minutes). Times, interleaved ``--repeats`` times: ``collect_second_moments`` at ``--layers`` (the
MEMIT family's) over ``--tokens`` tokens in float64 sums of float32 block products, the same with float64 products
(the previous way), and a plain ``model(**batch)`` over exactly the token rows the statistics read (same batches),
which computes every layer and the logits. Prints the medians and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from amend.architectures import anatomy
from amend.stats import StatsSettings, collect_second_moments, second_moment
from amend.testbeds import load as load_testbed
from amend.tokens import pad_id, pad_right


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=16384)
    parser.add_argument("--layers", type=int, nargs="+", default=[4, 5, 6, 7, 8])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bed = load_testbed("smollm2")
    model, tokenizer, corpus = bed.model, bed.tokenizer, bed.stats_corpus()
    body = anatomy(model)
    settings = StatsSettings(token_budget=args.tokens)
    batches = [
        pad_right(rows, pad_id(tokenizer))
        for rows in second_moment._token_batches(tokenizer, corpus, settings, body.context_length)
    ]
    tokens = sum(int(batch.attention_mask.sum()) for batch in batches)

    def statistics_pass() -> None:
        collect_second_moments(body, tokenizer, args.layers, corpus, settings, progress=False)

    def float64_products() -> None:
        block = second_moment.PRODUCT_BLOCK
        original = second_moment.outer_sum
        second_moment.outer_sum = lambda keys, dtype: keys.to(dtype).T @ keys.to(dtype)
        try:
            statistics_pass()
        finally:
            second_moment.outer_sum, second_moment.PRODUCT_BLOCK = original, block

    def plain_forward() -> None:
        with torch.no_grad():
            for batch in batches:
                model(**batch.model_inputs())

    runs = {"statistics (float32 block products)": statistics_pass, "statistics (float64 products)": float64_products}
    runs["plain forward, all layers and logits"] = plain_forward
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
    forward = statistics.median(seconds["plain forward, all layers and logits"])
    print(f"{tokens} tokens in {len(batches)} batches, layers {args.layers}, {args.threads} thread(s)")
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"{name:40s} {tokens / median:9.0f} tokens/s   {forward / median:5.2f}x the plain forward")


if __name__ == "__main__":
    main()
