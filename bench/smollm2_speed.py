"""Seconds per single edit on SmolLM2 at the testbed's defaults, on a given number of threads.

    .venv/bin/python bench/smollm2_speed.py [--methods rome memit alphaedit] [--edits 8] [--threads 1]

Statistics and the testbed's corpus come from the cache ($AMEND_CACHE; the first run computes them, minutes). For
each method one warm-up edit (statistics loaded, projectors built), then ``--edits`` edits of the first known
CounterFact records, each reverted before the next, timed inside the process: median, min and max seconds, and the
target optimisation's share. Run it on an otherwise idle machine, once per thread count.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from amend.datasets import load as load_dataset
from amend.editing.editor import Editor
from amend.evaluation.known import known_requests
from amend.lm import CausalLM
from amend.testbeds import load as load_testbed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["rome", "memit", "alphaedit"])
    parser.add_argument("--path", default="../shared/data/counterfact-easyedit/counterfact-val.first300.json")
    parser.add_argument("--edits", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bed = load_testbed("smollm2")
    requests = load_dataset("counterfact-easyedit", args.path)[: 4 * (args.edits + 1)]
    requests = known_requests(CausalLM(bed.model, bed.tokenizer), requests)[: args.edits + 1]
    for method in args.methods:
        editor = Editor(bed.model, bed.tokenizer, method)
        editor.edit(requests[0])  # warm-up: statistics, projectors
        editor.revert()
        seconds, target = [], []
        for request in requests[1:]:
            started = time.perf_counter()
            patch = editor.edit(request)
            seconds.append(time.perf_counter() - started)
            target.append(patch.log.get("target_seconds", float("nan")))
            editor.revert()
        shares = [t / s for t, s in zip(target, seconds, strict=True) if t == t]  # NaN: not logged (ROME)
        share = f"; target optimisation {statistics.median(shares):.0%} of it" if shares else ""
        print(
            f"{method:10s} threads {args.threads}: {statistics.median(seconds):.2f} s/edit median "
            f"(min {min(seconds):.2f}, max {max(seconds):.2f}, {len(seconds)} edits){share}",
            flush=True,
        )


if __name__ == "__main__":
    main()
