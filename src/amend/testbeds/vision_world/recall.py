"""What the multimodal world's model knows: top-1 recall of every answer (one token each), by kind of question.

Groups: the canonical flag with the trained phrasings (``trained``); renderings never trained on
(``held_out_renderings``, what image generality asks of an edit); phrasings never trained on
(``held_out_questions``, text generality); questions in words about a named country (``text``); a sentence of
context stating the asked relation (``context_relevant``: the answer is the context's object) or another one
(``context_irrelevant``: the answer is the true object).
"""

from __future__ import annotations

from typing import Any

from amend.lm.vision import VisionLM
from amend.prompting import VisualPrompt
from amend.requests import fill
from amend.testbeds.vision_world.generator import RELATIONS, VisionWorld
from amend.testbeds.vision_world.model import TEMPLATE
from amend.testbeds.vision_world.render import render

HELD_OUT_VARIANTS = 5  # renderings 1 … 5 of each flag: the other images of an edit's flag


def recall_groups(world: VisionWorld, image_size: int) -> dict[str, list[tuple[Any, str]]]:
    """(prompt, answer) pairs of every group."""
    groups: dict[str, list[tuple[Any, str]]] = {
        name: []
        for name in (
            "trained",
            "held_out_renderings",
            "held_out_questions",
            "text",
            "context_relevant",
            "context_irrelevant",
        )
    }
    for index, country in enumerate(world.countries):
        canonical = render(country.flag, 0, image_size)
        others = [render(country.flag, variant, image_size) for variant in range(1, HELD_OUT_VARIANTS + 1)]
        for number, relation in enumerate(RELATIONS):
            answer = country.facts[relation.name]
            groups["trained"] += [(VisualPrompt(question, canonical), answer) for question in relation.questions]
            groups["held_out_renderings"] += [(VisualPrompt(relation.questions[0], other), answer) for other in others]
            groups["held_out_questions"] += [
                (VisualPrompt(question, canonical), answer) for question in relation.held_out
            ]
            groups["text"] += [(fill(question, country.name), answer) for question in relation.text_questions]
            said = world.countries[(index + 1) % len(world.countries)].facts[relation.name]
            stated = f"{fill(relation.fact, said)} {relation.questions[0]}"
            groups["context_relevant"].append((VisualPrompt(stated, canonical), said))
            other = RELATIONS[(number + 1) % len(RELATIONS)]
            said_other = world.countries[(index + 1) % len(world.countries)].facts[other.name]
            unrelated = f"{fill(other.fact, said_other)} {relation.questions[0]}"
            groups["context_irrelevant"].append((VisualPrompt(unrelated, canonical), answer))
    return groups


def recall_report(model: Any, processor: Any, world: VisionWorld) -> dict[str, float]:
    """Top-1 recall of the answer's token in each group, rounded to 3 decimals."""
    lm = VisionLM(model, processor, template=TEMPLATE, progress=False)
    image_size = model.config.vision_config.image_size
    report = {}
    for name, pairs in recall_groups(world, image_size).items():
        scored = lm.score(pairs)
        report[name] = round(sum(s.argmax[0] == s.answer_ids[0] for s in scored) / len(scored), 3)
    return report
