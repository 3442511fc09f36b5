"""How far the partial forward's weight deltas are from the full forward's, on SmolLM2's first known records.

    .venv/bin/python bench/partial_delta.py [--methods rome memit] [--edits 3] [--threads 1]

Each edit is made twice, with ``v_reuse_frozen`` False (every step runs the whole network) and True (the default),
each reverted before the next; prints ‖Δ_partial − Δ_full‖ / ‖Δ_full‖ per edit, over all the layers an edit writes.
Needs ``runs/smollm2/known.json`` (the known records in amend's format; see docs/smollm2.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import amend
from amend.requests import request_from_dict
from amend.testbeds import load as load_testbed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["rome", "memit"])
    parser.add_argument("--edits", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--requests", default="runs/smollm2/known.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bed = load_testbed("smollm2")
    records = json.loads(Path(args.requests).read_text(encoding="utf-8"))[: args.edits]
    requests = [request_from_dict(record, record_id=i) for i, record in enumerate(records)]
    for method in args.methods:
        deltas = {}
        for reuse in (False, True):
            editor = amend.Editor(bed.model, bed.tokenizer, method, v_reuse_frozen=reuse)
            deltas[reuse] = []
            for request in requests:
                patch = editor.edit(request)
                deltas[reuse].append(torch.cat([(c.left @ c.right).flatten() for c in patch.changes]))
                editor.revert()
        relative = [float((a - b).norm() / a.norm()) for a, b in zip(deltas[False], deltas[True], strict=True)]
        print(method, " ".join(f"{value:.1e}" for value in relative))


if __name__ == "__main__":
    main()
