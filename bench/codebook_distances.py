"""How far a fact's paraphrases and its neighbours lie from its codebook key, for each codebook query
(docs/memory.md): when paraphrases lie farther than neighbours no radius can take the one and leave the other.

    .venv/bin/python bench/codebook_distances.py world|smollm2|vision_world [--records 30] [--threads 2]

Per query kind (GRACE's: the last token's input at its default layer, Euclidean; BalancEdit's: the prefix mean at the
last layer, cosine; BalancEdit with GRACE's query), the median over records of the median distance of the rephrases
and of the locality prompts to the edit prompt's key, and for how many records every locality prompt lies farther
than every rephrase (one radius could then separate them for that fact). On the multimodal world the "rephrases"
are the rephrased questions about the edited flag and the question about its other renderings, the "locality
prompts" the question about other countries' flags; the black-image question (BalancEdit's negative) is shown apart.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from amend import Editor
from amend.datasets import load
from amend.prompting import VisualPrompt, blank_image
from amend.requests import MultimodalRequest
from amend.testbeds import load as load_testbed

QUERIES = [
    ("grace", {}),
    ("balancedit", {}),
    ("balancedit", {"pooling": "token", "distance": "euclidean"}),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("testbed", choices=["world", "smollm2", "vision_world"])
    parser.add_argument("--records", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--testbed-dir", help="the testbed's model from this folder instead of the shipped one")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bed = load_testbed(args.testbed, args.testbed_dir)
    if args.testbed in ("world", "vision_world"):
        requests = bed.requests(args.records)
    else:
        requests = load("amend", "runs/smollm2/known.json")[: args.records]  # bench/smollm2.sh data
    for method, settings in QUERIES:
        editor = Editor(bed.model, bed.tokenizer, method, **settings)
        codebook = editor.method_cls(bed.model, bed.tokenizer, editor.config, editor.resources)
        positive, negative, separable, blanks = [], [], 0, []
        for request in requests:
            rephrases, neighbours, blank = samples(request)
            queries = codebook.queries([request.asked, *rephrases, *neighbours, *blank])
            distance = codebook.distances_to(queries[0], queries[1:]).tolist()
            near, far = distance[: len(rephrases)], distance[len(rephrases) : len(rephrases) + len(neighbours)]
            positive.append(statistics.median(near))
            negative.append(statistics.median(far))
            blanks += distance[len(rephrases) + len(neighbours) :]
            separable += min(far) > max(near)
        config = editor.config
        print(
            f"{method} {settings or ''} layer {config.layer} ({config.pooling}, {config.distance}): "
            f"rephrases {statistics.median(positive):.3f}, locality prompts {statistics.median(negative):.3f}; "
            f"separable for {separable} of {len(requests)} facts"
            + (f"; the black image {statistics.median(blanks):.3f}" if blanks else "")
        )


def samples(request) -> tuple[list, list, list]:
    """(prompts that should fire, prompts that should not, the black-image question) of a request."""
    if isinstance(request, MultimodalRequest):
        near = [VisualPrompt(r.prompt, request.image) for r in request.rephrase[:3]]
        near += [VisualPrompt(request.prompt, image) for image in request.image_rephrase[:3]]
        far = [VisualPrompt(p.prompt, p.image) for p in request.image_locality[:3]]
        return near, far, [VisualPrompt(request.prompt, blank_image())]
    return [r.prompt for r in request.rephrase[:3]], [p.prompt for p in request.locality[:3]], []


if __name__ == "__main__":
    main()
