"""How far a fact's paraphrases and its neighbours lie from its codebook key, for each codebook query
(docs/memory.md): when paraphrases lie farther than neighbours no radius can take the one and leave the other.

    .venv/bin/python bench/codebook_distances.py world|smollm2 [--records 30] [--threads 2]

Per query kind (GRACE's: the last token's input at its default layer, Euclidean; BalancEdit's: the prefix mean at the
last layer, cosine; BalancEdit with GRACE's query), the median over records of the median distance of the rephrases
and of the locality prompts to the edit prompt's key, and for how many records every locality prompt lies farther
than every rephrase (one radius could then separate them for that fact).
"""

from __future__ import annotations

import argparse
import statistics

import torch

from amend import Editor
from amend.datasets import load
from amend.testbeds import load as load_testbed

QUERIES = [
    ("grace", {}),
    ("balancedit", {}),
    ("balancedit", {"pooling": "token", "distance": "euclidean"}),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("testbed", choices=["world", "smollm2"])
    parser.add_argument("--records", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bed = load_testbed(args.testbed)
    if args.testbed == "world":
        requests = bed.requests(args.records)
    else:
        requests = load("amend", "runs/smollm2/known.json")[: args.records]  # bench/smollm2.sh data
    for method, settings in QUERIES:
        editor = Editor(bed.model, bed.tokenizer, method, **settings)
        codebook = editor.method_cls(bed.model, bed.tokenizer, editor.config, editor.resources)
        positive, negative, separable = [], [], 0
        for request in requests:
            rephrases = [r.prompt for r in request.rephrase[:3]]
            neighbours = [p.prompt for p in request.locality[:3]]
            queries = codebook.queries([request.text, *rephrases, *neighbours])
            distance = codebook.distances_to(queries[0], queries[1:]).tolist()
            near, far = distance[: len(rephrases)], distance[len(rephrases) :]
            positive.append(statistics.median(near))
            negative.append(statistics.median(far))
            separable += min(far) > max(near)
        config = editor.config
        print(
            f"{method} {settings or ''} layer {config.layer} ({config.pooling}, {config.distance}): "
            f"rephrases {statistics.median(positive):.3f}, locality prompts {statistics.median(negative):.3f}; "
            f"separable for {separable} of {len(requests)} facts"
        )


if __name__ == "__main__":
    main()
