"""The built-in suites: deterministic items generated from a seed, no download.

* **world** (the world model, whose answers are one word, matched by the generation's first word as the world's
  own recall measures them): ``recall`` (training-template questions about facts none of the run's requests
  edits), ``reading`` (a stated counterfactual fact read in context), ``judgement`` (is a stated fact relevant to
  a question: yes/no), ``two_hop`` (a stated birth city, the birth country asked: reading plus the memorised city →
  country fact), ``fluency`` (a biography generated from a name);
* **text** (any causal LM with a pool of benchmark records, e.g. SmolLM2 with CounterFact): ``known_facts`` (records
  the unedited model prefers the true object of, none edited nor about an edited subject), ``arithmetic`` (two-number
  sums and differences after three solved examples; the first number generated must be the result), ``fluency``
  (generation from the held-out records' prompts).

No item asks a fact the run edits (the world suite leaves out the edited (person, relation) facts, the text suite
every record about an edited subject), so a fall in these numbers is damage to what the edits were not about.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from amend.abilities.base import Ability
from amend.abilities.builtin import FluencyAbility, KnownFactsAbility, QuestionAbility, first_words, number_match
from amend.errors import ConfigError
from amend.evaluation.known import known_mask
from amend.lm import LanguageModel
from amend.requests import EditRequest, fill
from amend.testbeds.world.corpus import NO, YES, distractor, in_context_prompt, random_fact, relevance_prompt

WORLD_ABILITIES = ("recall", "reading", "judgement", "two_hop", "fluency")
TEXT_ABILITIES = ("known_facts", "arithmetic", "fluency")
ARITHMETIC_EXAMPLES = "3 + 4 = 7\n12 + 5 = 17\n9 - 2 = 7\n"
"""The solved examples before every arithmetic question (they set the answer format for a base model)."""


def arithmetic_cases(n: int, seed: int = 0, largest: int = 20) -> list[tuple[str, str]]:
    """``n`` questions ``a + b =`` or ``a - b =`` (a ≥ b, numbers up to ``largest``) after the solved examples."""
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        a, b = sorted((rng.randint(0, largest), rng.randint(0, largest)), reverse=True)
        op = rng.choice("+-")
        cases.append((f"{ARITHMETIC_EXAMPLES}{a} {op} {b} =", str(a + b if op == "+" else a - b)))
    return cases


def world_abilities(
    world, edited: set[tuple[str, str]], names: Sequence[str] = WORLD_ABILITIES, size: int = 100, seed: int = 0
) -> list[Ability]:
    """The world suite for a run that edits the (person, relation) facts ``edited``: no question asks one of them
    (a thousand edits touch every person of the shipped world once, so facts, not people, are left out)."""
    from amend.testbeds.world.generator import PERSON_RELATIONS, TWO_HOP_RELATION

    kept = [(p, r) for p in world.people for r in PERSON_RELATIONS if (p.name, r) not in edited]
    if not kept:
        raise ConfigError("the run edits every fact of the world: no unedited fact is left to ask about")
    by_word = (first_words, "first_word_match")

    def rng(name: str) -> random.Random:  # one stream per ability: its items do not depend on the others chosen
        return random.Random(f"{seed}/{name}")

    def question(r: random.Random, person, relation: str) -> str:
        return fill(r.choice(world.relations[relation].train), person.name)

    def recall() -> Ability:
        r = rng("recall")
        cases = [(question(r, p, rel), p.facts[rel]) for p, rel in _sample(kept, size, r)]
        return QuestionAbility("recall", cases, *by_word)

    def reading() -> Ability:
        r, cases = rng("reading"), []
        for p, rel in _draw(kept, size, r):
            fact, obj = random_fact(world, r, p, rel)
            while obj == p.facts[rel]:
                fact, obj = random_fact(world, r, p, rel)
            cases.append((in_context_prompt([fact], question(r, p, rel)), obj))
        return QuestionAbility("reading", cases, *by_word)

    def judgement() -> Ability:
        r, cases = rng("judgement"), []
        for p, rel in _draw(kept, size, r):
            if r.random() < 0.5:
                cases.append((relevance_prompt(random_fact(world, r, p, rel)[0], question(r, p, rel)), YES))
            else:
                cases.append((relevance_prompt(distractor(world, r, p, rel), question(r, p, rel)), NO))
        return QuestionAbility("judgement", cases, *by_word)

    def two_hop() -> Ability:
        r, cases = rng("two_hop"), []
        born = [p for p, rel in kept if rel == "birth_city"]
        for p in _draw(born, size, r):
            fact, city = random_fact(world, r, p, "birth_city")
            cases.append((in_context_prompt([fact], question(r, p, TWO_HOP_RELATION)), world.city_country[city]))
        return QuestionAbility("two_hop", cases, *by_word)

    def fluency() -> Ability:
        people = list(world.people)
        return FluencyAbility([p.name for p in rng("fluency").sample(people, min(size, len(people)))])

    builders = {"recall": recall, "reading": reading, "judgement": judgement, "two_hop": two_hop, "fluency": fluency}
    return [_built(builders, name, WORLD_ABILITIES) for name in names]


def world_facts(world, requests: Sequence[EditRequest]) -> set[tuple[str, str]]:
    """The (person, relation) facts world requests edit (the relation read from the request's template)."""
    return {(r.subject, world.relation_of(r.prompt)) for r in requests}


def text_abilities(
    lm: LanguageModel,
    pool: Sequence[EditRequest],
    edited: Sequence[EditRequest],
    names: Sequence[str] = TEXT_ABILITIES,
    size: int = 100,
    seed: int = 0,
) -> list[Ability]:
    """The text suite; ``lm`` must be the *unedited* model (it selects the known facts), ``pool`` the records the
    known facts and fluency prompts come from (any of them about an edited subject, or edited, is left out)."""
    subjects = {r.subject for r in edited}
    ids = {r.record_id for r in edited}
    held_out = [r for r in pool if r.subject not in subjects and r.record_id not in ids and r.target_true]
    if any(name in ("known_facts", "fluency") for name in names) and not held_out:
        raise ConfigError(
            "known_facts and fluency need records beyond the edited ones (with target_true): give more requests "
            "than the largest edit count, or a pool file"
        )

    def known() -> Ability:
        kept = [r for r, k in zip(held_out, known_mask(lm, held_out), strict=True) if k]
        return KnownFactsAbility(kept[:size])

    builders = {
        "known_facts": known,
        "arithmetic": lambda: QuestionAbility("arithmetic", arithmetic_cases(size, seed), number_match, "number_match"),
        "fluency": lambda: FluencyAbility([r.text for r in held_out[:size]]),
    }
    return [_built(builders, name, TEXT_ABILITIES) for name in names]


def _built(builders, name: str, available: Sequence[str]) -> Ability:
    if name not in builders:
        raise ConfigError(f"no built-in ability {name!r} here; choose from {', '.join(available)}")
    return builders[name]()


def _draw(items: list, n: int, rng: random.Random) -> list:
    """``n`` items drawn with replacement when there are fewer than ``n``, without otherwise."""
    if not items:
        raise ConfigError("no unedited fact of this kind is left to ask about")
    return rng.sample(items, n) if len(items) >= n else [rng.choice(items) for _ in range(n)]


def _sample(cases: list, size: int, rng: random.Random) -> list:
    return cases if len(cases) <= size else rng.sample(cases, size)
