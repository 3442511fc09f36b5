"""Can a model judge relevance? The yes − no log-probability margin of SCR's relevance question on pairs whose fact is
relevant (the request's own fact with its prompt and its rephrase) and irrelevant (with its neighbourhood prompt).

    .venv/bin/python bench/scr_judge.py [--records 30] [--threads 2]      # SmolLM2 on the CounterFact records it knows

Prints per judge prompt the median margin of each group, how often "Yes" beats "No", and the best accuracy any
threshold on the margin reaches (docs/contextual.md). Needs runs/smollm2/known.json (bench/smollm2.sh data).
"""

from __future__ import annotations

import argparse
import statistics

import torch

from amend.datasets import load
from amend.lm import CausalLM
from amend.methods.contextual import as_chat
from amend.methods.scr.config import JUDGE_TEMPLATE
from amend.testbeds import load as load_testbed

TEMPLATES = {
    "default": JUDGE_TEMPLATE,
    "same subject and relation": (
        "Fact: {fact}\nText: {question}\nIs the fact about the same subject and the same relation as the text? "
        "Answer yes or no."
    ),
    "completes": (
        "Fact: {fact}\nSentence start: {question}\nDoes the fact tell how the sentence ends? Answer yes or no."
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bed = load_testbed("smollm2")
    lm = CausalLM(bed.model, bed.tokenizer)
    requests = load("amend", "runs/smollm2/known.json")[: args.records]
    for name, template in TEMPLATES.items():
        relevant, irrelevant = [], []
        for request in requests:
            fact = f"{request.text} {request.target_new}."
            pairs = [(request.text, relevant), (request.rephrase[0].prompt, relevant)]
            pairs.append((request.locality[0].prompt, irrelevant))
            for question, group in pairs:
                prompt = as_chat(bed.tokenizer, template.format(fact=fact, question=question))
                yes, no = lm.score([(prompt, "Yes"), (prompt, "No")])
                group.append(no.nll - yes.nll)  # > 0: "Yes" is the likelier answer
        best = max(
            (sum(m > cut for m in relevant) + sum(m <= cut for m in irrelevant)) / (len(relevant) + len(irrelevant))
            for cut in relevant + irrelevant
        )
        print(
            f"{name}: median margin relevant {statistics.median(relevant):.2f}, irrelevant "
            f"{statistics.median(irrelevant):.2f}; yes wins on {sum(m > 0 for m in relevant)}/{len(relevant)} relevant "
            f"and {sum(m > 0 for m in irrelevant)}/{len(irrelevant)} irrelevant; best threshold accuracy {best:.3f}"
        )


if __name__ == "__main__":
    main()
