"""Wall clock of 1,000 sequential edits of SmolLM2 in batches of 100 (editing only, no evaluation).

    bench/smollm2.sh data                                    # once: runs/smollm2/sequential1000.json
    .venv/bin/python bench/sequential_speed.py [--method alphaedit] [--threads 2] [--batch 100] [--edits 1000]

Prints the seconds of each batch as it is written (the first includes the statistics and, for AlphaEdit, the
null-space projector, unless they are cached: the line before the table says which) and the total. The testbed's
defaults; the requests are the 900 CounterFact records plus 100 MQuAKE-hard rewrites of bench/smollm2.sh. The
evaluation of the same run (bench/smollm2.sh sequential) is separate: this times what the issue asks, the edits.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from amend.editing.editor import Editor
from amend.requests import request_from_dict
from amend.testbeds import load as load_testbed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="alphaedit")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--edits", type=int, default=1000)
    parser.add_argument("--requests", default="runs/smollm2/sequential1000.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with open(args.requests) as handle:
        records = json.load(handle)[: args.edits]
    requests = [request_from_dict(record, i) for i, record in enumerate(records)]
    bed = load_testbed("smollm2")
    started = time.perf_counter()
    editor = Editor(bed.model, bed.tokenizer, args.method, progress=True)
    prepared = time.perf_counter() - started
    print(f"{args.method}, {len(requests)} edits in batches of {args.batch}, {args.threads} threads")
    print("| batch | edits so far | seconds | s/edit | cumulative |")
    print("|---|---|---|---|---|")
    total = prepared
    for first in range(0, len(requests), args.batch):
        batch = requests[first : first + args.batch]
        begun = time.perf_counter()
        editor.edit(batch)
        seconds = time.perf_counter() - begun
        total += seconds
        print(
            f"| {first // args.batch + 1} | {first + len(batch)} | {seconds:.0f} | {seconds / len(batch):.2f} "
            f"| {total / 60:.1f} min |",
            flush=True,
        )
    print(f"total {total / 60:.1f} min (editor set-up {prepared:.1f} s)")


if __name__ == "__main__":
    main()
