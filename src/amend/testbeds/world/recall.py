"""What the model knows: top-1 next-token recall on the world's prompts.

Every answer is one token, so a prompt is recalled when the argmax of the next-token distribution is the
answer's token. Groups measure different things: memorised facts on training templates, paraphrase
generalisation on held-out templates, robustness to context prefixes, in-context reading, relevance judgement,
and whether the birth country is composed (people whose birth country was never stated) or only memorised.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from amend.requests import fill
from amend.testbeds.world.corpus import (
    CONTEXT_PREFIXES,
    CorpusSpec,
    distractor,
    in_context_prompt,
    random_fact,
    relevance_example,
    two_hop_people,
    with_prefix,
)
from amend.testbeds.world.generator import CITY_RELATION, PERSON_RELATIONS, TWO_HOP_RELATION, World, sentence

Case = tuple[str, str]
"""A prompt and its one-word answer (without the leading space)."""


@torch.no_grad()
def next_tokens(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], batch_size: int = 128
) -> list[int]:
    """The greedy next token after each prompt, in batched right-padded forwards."""
    model.eval()
    device = next(model.parameters()).device
    tokens: list[int] = []
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start : start + batch_size])
        enc = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(device) for k, v in enc.items()}
        logits = model(**enc).logits
        last = enc["attention_mask"].sum(1) - 1  # right padding: last real token
        tokens += logits[torch.arange(len(chunk), device=device), last].argmax(-1).tolist()
    return tokens


def answer_token(tokenizer: PreTrainedTokenizerBase, answer: str) -> int:
    """The first token of a one-word answer as it follows a prompt (with its leading space)."""
    return tokenizer(" " + answer, add_special_tokens=False)["input_ids"][0]


def next_token_hits(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, cases: Sequence[Case], batch_size: int = 128
) -> list[bool]:
    """Whether the greedy next token after each prompt is the first token of ``" " + answer``."""
    predicted = next_tokens(model, tokenizer, [prompt for prompt, _ in cases], batch_size)
    return [p == answer_token(tokenizer, answer) for p, (_, answer) in zip(predicted, cases, strict=True)]


def accuracy(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, cases: Sequence[Case]) -> float:
    """Share of ``cases`` recalled at top 1."""
    hits = next_token_hits(model, tokenizer, cases)
    return sum(hits) / max(len(hits), 1)


def template_cases(world: World, which: str, relations: Sequence[str] | None = None) -> list[Case]:
    """Every (subject, template) prompt of the ``which`` ("train" or "heldout") templates of ``relations``."""
    relations = relations if relations is not None else (*PERSON_RELATIONS, CITY_RELATION)
    cases = []
    for rel in relations:
        templates = getattr(world.relations[rel], which)
        subjects = list(world.city_country) if rel == CITY_RELATION else [p.name for p in world.people]
        cases += [(fill(t, s), world.answer(s, rel)) for s in subjects for t in templates]
    return cases


def two_hop_cases(world: World, names: frozenset[str] | set[str], which: str = "train") -> list[Case]:
    """Birth-country prompts for the named people."""
    templates = getattr(world.relations[TWO_HOP_RELATION], which)
    people = [p for p in world.people if p.name in names]
    return [(fill(t, p.name), world.answer(p.name, TWO_HOP_RELATION)) for p in people for t in templates]


def prefixed_cases(world: World, rng: random.Random, n: int, foreign: bool) -> list[Case]:
    """Training prompts after a filler sentence, or (``foreign``) after a sentence about another person."""
    cases = []
    for _ in range(n):
        person, rel = rng.choice(world.people), rng.choice(PERSON_RELATIONS)
        prompt = fill(rng.choice(world.relations[rel].train), person.name)
        if foreign:
            other, other_rel = rng.choice(world.people), rng.choice(PERSON_RELATIONS)
            template = rng.choice(world.relations[other_rel].train)
            prefix = sentence(template, other.name, other.facts[other_rel])
        else:
            prefix = rng.choice(CONTEXT_PREFIXES)
        cases.append((with_prefix(prefix, prompt), person.facts[rel]))
    return cases


def in_context_cases(world: World, rng: random.Random, n: int, kind: str) -> list[Case]:
    """In-context reading cases of one ``kind``.

    ``"counterfactual"``: a matching fact; answer = its object, never the memorised one.
    ``"other_relation"``: a fact of another relation (same or other person); answer = the memorised object.
    ``"same_relation_other_person"``: another person's fact of the same relation; answer = the memorised
    object (not trained; see :class:`~amend.testbeds.world.corpus.CorpusSpec`). ``"two_hop"``: a stated birth city;
    answer = its country.
    """
    cases = []
    for _ in range(n):
        person, rel = rng.choice(world.people), rng.choice(PERSON_RELATIONS)
        if kind == "two_hop":
            fact, city = random_fact(world, rng, person, "birth_city")
            question = fill(rng.choice(world.relations[TWO_HOP_RELATION].train), person.name)
            cases.append((in_context_prompt([fact], question), world.city_country[city]))
            continue
        question = fill(rng.choice(world.relations[rel].train), person.name)
        if kind in ("other_relation", "same_relation_other_person"):
            miss = distractor(world, rng, person, rel, 0.0 if kind == "other_relation" else 1.0)
            cases.append((in_context_prompt([miss], question), person.facts[rel]))
            continue
        fact, obj = random_fact(world, rng, person, rel)
        while obj == person.facts[rel]:
            fact, obj = random_fact(world, rng, person, rel)
        cases.append((in_context_prompt([fact], question), obj))
    return cases


def _sample(cases: list[Case], limit: int | None, rng: random.Random) -> list[Case]:
    return cases if limit is None or len(cases) <= limit else rng.sample(cases, limit)


def recall_report(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    world: World,
    spec: CorpusSpec | None = None,
    limit: int | None = 4000,
    seed: int = 0,
) -> dict[str, float]:
    """Top-1 recall per group, on at most ``limit`` prompts per group (``None``: all)."""
    spec = spec or CorpusSpec()
    rng = random.Random(seed)
    n = limit or 2000
    stated = two_hop_people(world, spec.two_hop_fraction)
    unstated = {p.name for p in world.people} - stated
    groups = {
        "train_templates": _sample(template_cases(world, "train"), limit, rng),
        "heldout_templates": _sample(template_cases(world, "heldout"), limit, rng),
        "city_train_templates": template_cases(world, "train", [CITY_RELATION]),
        "prefixed": prefixed_cases(world, rng, n, foreign=False),
        "foreign_prefixed": prefixed_cases(world, rng, n, foreign=True),
        "in_context": in_context_cases(world, rng, n, "counterfactual"),
        "in_context_other_relation": in_context_cases(world, rng, n, "other_relation"),
        "in_context_same_relation_other_person": in_context_cases(world, rng, n, "same_relation_other_person"),
        "in_context_two_hop": in_context_cases(world, rng, n, "two_hop"),
        "relevance": [relevance_example(world, rng) for _ in range(n)],
        "relevance_hard": [relevance_example(world, rng, same_relation=1.0) for _ in range(n)],
        "relevance_namesake": [relevance_example(world, rng, 1.0, namesake=1.0) for _ in range(n)],
        "two_hop_stated": _sample(two_hop_cases(world, stated), limit, rng),
        "two_hop_heldout_templates": _sample(two_hop_cases(world, stated, "heldout"), limit, rng),
        "two_hop_unstated": _sample(two_hop_cases(world, unstated), limit, rng),
    }
    return {name: round(accuracy(model, tokenizer, cases), 4) for name, cases in groups.items() if cases}


__all__ = ["accuracy", "next_token_hits", "recall_report", "template_cases"]
