"""Where a world edit's damage to the same person goes: does the edited person turn into somebody else?

    .venv/bin/python bench/identity_shift.py [-n 40] [--method rome] [--testbed world DIR] [--set KEY=JSON ...]

Edits each world request alone (then reverts it) and compares the greedy answer of every same-person locality probe
(the person's other relations) before and after. A changed answer is counted as a *donor's fact* when some person
whose true object for the edited relation is the new target has that answer for the probe's relation: an edit that
writes "X was born in Paris" by moving X towards a person born in Paris brings that person's employer, language…
along. The share expected by chance is printed next to it (the same count for random non-donors).

A second table splits the probes by word order (R: relation first, "The employer of X is"; S: subject first, "X
works for"), of the edit prompt and of the probe: the share whose greedy answer changed, and the share that now
answers with the edit's new object (the new object leaking into another relation).
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter

import torch

from amend import Editor, world
from amend.testbeds.world.defaults import stats_corpus
from amend.testbeds.world.generator import relation_first
from amend.testbeds.world.recall import answer_token, next_tokens


def holds(tokenizer, people, relation: str, token: int) -> bool:
    """Whether any of ``people`` has, for ``relation``, an object starting with ``token``."""
    return any(answer_token(tokenizer, person.facts[relation]) == token for person in people)


def template_of(prompt: str, subject: str) -> str:
    return prompt.replace(subject, "{}", 1)


def word_order(relation: str, template: str) -> str:
    """ "R" when the template names its relation before the subject, else "S"."""
    return "R" if relation_first(relation, template) else "S"


def print_orders(orders: Counter) -> None:
    print("edit, probe  probes  answer changed  answers the new object")
    for pair in sorted({pair for pair, _ in orders}):
        n = orders[pair, "probes"]
        print(
            f"{pair[0]}, {pair[1]}        {n:6d}  {orders[pair, 'changed'] / n:14.2f}  {orders[pair, 'new'] / n:22.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="requests (seed 0)")
    parser.add_argument("--method", default="rome")
    parser.add_argument("--testbed world", default=None, help="a trained world-model folder (default: the shipped one)")
    parser.add_argument("--set", action="append", default=[], help="method option KEY=JSON (repeatable)")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, tokenizer, facts = world.load(args.world)
    options = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    editor = Editor(
        model, tokenizer, method=args.method, corpus=stats_corpus(facts), cache_dir=args.cache_dir, **options
    )
    rng, counts, orders = random.Random(0), Counter(), Counter()
    for request in world.edit_requests(args.n, seed=0, world=facts):
        relation = facts.relation_of(request.prompt)
        donors = [p for p in facts.people if p.facts[relation] == request.target_new]
        others = rng.sample([p for p in facts.people if p not in donors and p.name != request.subject], len(donors))
        probes = [probe for probe in request.locality if probe.kind == "same_subject"]
        prompts = [probe.prompt for probe in probes]
        before = next_tokens(model, tokenizer, prompts)
        editor.edit([request])
        after = next_tokens(model, tokenizer, prompts)
        editor.revert()
        new_object = answer_token(tokenizer, request.target_new)
        edit_order = word_order(relation, request.prompt)
        for probe, old, new in zip(probes, before, after, strict=True):
            counts["probes"] += 1
            probe_template = template_of(probe.prompt, request.subject)
            probe_relation = facts.relation_of(probe_template)
            pair = (edit_order, word_order(probe_relation, probe_template))
            orders[pair, "probes"] += 1
            orders[pair, "changed"] += new != old
            orders[pair, "new"] += new == new_object
            if new == old:
                continue
            counts["changed"] += 1
            counts["donor"] += holds(tokenizer, donors, probe_relation, new)
            counts["chance"] += holds(tokenizer, others, probe_relation, new)
    changed = max(counts["changed"], 1)
    print(
        f"{args.method} {options or ''}: {counts['changed']} of {counts['probes']} same-person answers changed; "
        f"{counts['donor'] / changed:.2f} of the changed are a donor's fact "
        f"(chance, same number of random people: {counts['chance'] / changed:.2f})"
    )
    print_orders(orders)


if __name__ == "__main__":
    main()
