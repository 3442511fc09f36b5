"""Inference cost of a codebook: scoring throughput with 0, 100 and 1,000 entries against the unedited model.

    .venv/bin/python bench/codebook_overhead.py [--testbed world|smollm2] [--entries 0 100 1000] [--method grace]
                                                [--prompts 512] [--repeats 3] [--threads 2]

The entries are real ones: the first request is edited with the method (a real codebook at its default layer and
settings), then the codebook is filled to each size with keys from other prompts' queries (so the nearest-key
search does its full work, and a few positions fire). Each setting scores the same (prompt, answer) pairs, the
settings interleaved ``--repeats`` times; tokens/s counts the scored rows' tokens, and the ratio is against the
model without a codebook in the same round.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from amend import Editor
from amend.changes import attached
from amend.lm import CausalLM
from amend.testbeds import load as load_testbed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--testbed", default="world")
    parser.add_argument("--method", default="grace")
    parser.add_argument("--entries", nargs="+", type=int, default=[0, 100, 1000])
    parser.add_argument("--prompts", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bed = load_testbed(args.testbed)
    model, tokenizer = bed.model, bed.tokenizer
    requests = bed.requests(max(args.prompts, 8))
    pairs = [(r.text, r.target_true or r.target_new) for r in requests[: args.prompts]]
    lm = CausalLM(model, tokenizer, progress=False)
    tokens = sum(len(p) + len(a) - 1 for p, a in (lm.tokens(*pair) for pair in pairs))
    editor = Editor(model, tokenizer, args.method, steps=5)
    editor.edit(requests[:1])
    book = next(iter(attached(model))).component
    edited = editor.patches[0]
    queries = editor.method_cls(model, tokenizer, editor.config, editor.resources).queries([p for p, _ in pairs])
    one = {name: getattr(book, name)[:1].clone() for name in book.row_tensors()}
    label = book.label(0)
    seconds: dict[int, list[float]] = {n: [] for n in args.entries}
    base: list[float] = []
    lm.score(pairs)  # tokenization is cached from here on: what is timed is the model
    for _ in range(args.repeats):
        fill(book, one, label, queries, 1)  # the codebook exactly as the edit left it, so the patch reverts
        edited.revert()
        base.append(timed(lm, pairs))
        edited.apply(model)
        for size in args.entries:
            fill(book, one, label, queries, size)
            seconds[size].append(timed(lm, pairs))
    fill(book, one, label, queries, 1)
    edited.revert()
    reference = statistics.median(base)
    print(f"{args.testbed}, {args.method} at layer {editor.config.layer}; {len(pairs)} prompts, {tokens} tokens")
    print("| entries | tokens/s | against the unedited model |")
    print("|---|---|---|")
    print(f"| none (unedited) | {tokens / reference:.0f} | 1.00 |")
    for size in args.entries:
        median = statistics.median(seconds[size])
        print(f"| {size} | {tokens / median:.0f} | {reference / median:.2f} |")


def fill(book, one: dict, label: tuple[int, ...], queries: torch.Tensor, size: int) -> None:
    """Make the codebook ``size`` entries: the edited one, then keys from the prompts' queries moved off them (so
    they are searched but rarely fire), each with the edited entry's output row and radius."""
    book._truncate(0)
    if size >= 1:
        book._append(one, [label])
    extra = size - len(book)
    if extra <= 0:
        return
    generator = torch.Generator().manual_seed(size)
    picks = torch.randint(len(queries), (extra,), generator=generator)
    keys = queries[picks] + torch.randn(extra, queries.shape[1], generator=generator) * queries.norm(dim=1).mean()
    rows = {name: tensor.expand(extra, *tensor.shape[1:]).clone() for name, tensor in one.items()}
    rows["keys"] = keys.to(rows["keys"].dtype)
    book._append(rows, [label] * extra)


def timed(lm: CausalLM, pairs) -> float:
    started = time.perf_counter()
    lm.score(pairs)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
