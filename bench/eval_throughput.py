"""Evaluation throughput against the raw batched forward of the same model on the same prompts.

    .venv/bin/python bench/eval_throughput.py [--requests 200] [--batch-size 64] [--threads 2] [--repeats 3]

Runs on the shipped knowledge-world model. It times ``amend.evaluate`` of the unedited model with the probability
and token-accuracy protocols (teacher-forced: every answer and foil scored once, before and after — here the model
is not edited, so once), and a plain ``model(**batch)`` loop over exactly the same token rows with the same batch
size. The ratio of their prompts per second is the figure we track (issue 19: ≥ 0.9), the median of ``--repeats``
interleaved pairs. Exact match (greedy generation with a key/value cache, several forwards per prompt) is timed
separately.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from amend.evaluation import EvaluationSettings, evaluate
from amend.evaluation.tasks import items_of
from amend.testbeds import world
from amend.tokens import pad_id, pad_right, target_ids


def raw_forward_seconds(model, tokenizer, rows: list[list[int]], batch_size: int) -> float:
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    batches = [
        pad_right([rows[i] for i in order[s : s + batch_size]], pad_id(tokenizer))
        for s in range(0, len(rows), batch_size)
    ]
    start = time.perf_counter()
    with torch.no_grad():
        for batch in batches:
            model(**batch.model_inputs())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, tokenizer, _ = world.load()
    requests = world.edit_requests(args.requests, seed=0)
    items = items_of(requests)
    rows = []
    for item in items:
        for answer in (item.answer, item.foil):
            if answer is not None:
                prompt, target = target_ids(tokenizer, item.prompt, answer)
                rows.append(prompt + target[:-1])
    evaluate(model, tokenizer, requests[:5], None, settings=EvaluationSettings(progress=False))  # warm-up
    raw_forward_seconds(model, tokenizer, rows[:64], args.batch_size)

    settings = EvaluationSettings(
        protocols=("probability", "token_accuracy"), forward_batch_size=args.batch_size, progress=False
    )
    pairs = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        evaluate(model, tokenizer, requests, None, settings=settings)
        pairs.append((time.perf_counter() - start, raw_forward_seconds(model, tokenizer, rows, args.batch_size)))
    evaluation = statistics.median(e for e, _ in pairs)
    raw = statistics.median(r for _, r in pairs)
    ratio = statistics.median(r / e for e, r in pairs)
    start = time.perf_counter()
    evaluate(
        model,
        tokenizer,
        requests,
        None,
        settings=EvaluationSettings(protocols=("exact_match",), forward_batch_size=args.batch_size, progress=False),
    )
    generation = time.perf_counter() - start

    print(
        f"{len(items)} prompts ({len(rows)} teacher-forced rows), batch size {args.batch_size}, "
        f"{args.threads} thread(s)"
    )
    print(f"evaluation (probability + token accuracy): {len(items) / evaluation:8.1f} prompts/s")
    print(f"raw batched forward, same rows:            {len(items) / raw:8.1f} prompts/s")
    print(f"ratio (median of {args.repeats} interleaved pairs): {ratio:.2f}")
    print(f"exact match (greedy generation): {len(items) / generation:8.1f} prompts/s")


if __name__ == "__main__":
    main()
