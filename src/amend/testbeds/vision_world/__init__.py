"""A multimodal knowledge world and a tiny LLaVA trained from scratch that answers questions about its flags.

Every country has a flag drawn in many renderings and four facts (its name, capital, language, national animal),
asked as visual questions ("Which country does this flag belong to?") or in words ("What is the capital of
Rareth?"). The shipped model lives in ``amend/testbeds/vision_world/data`` (model, processor, ``world.json``, the
images edit requests point to, and ``model_card.json`` with its training configuration and measured recall).
Retrain it with ``python -m amend.testbeds.vision_world.train --out DIR``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from amend.errors import ConfigError
from amend.prompting import ImageTextEncoder
from amend.requests import ImageProbe, MultimodalRequest, Probe, Rephrase, fill
from amend.testbeds.vision_world.generator import RELATION_NAMES, VisionWorld
from amend.testbeds.vision_world.model import TEMPLATE
from amend.testbeds.vision_world.recall import HELD_OUT_VARIANTS
from amend.testbeds.vision_world.render import blank, render

DATA_DIR = Path(__file__).parent / "data"
IMAGES = "images"
BLANK_IMAGE = "blank.png"
WORLD_FILE = "world.json"


def _probes(
    rng: random.Random,
    others: Sequence[int],
    relation: str,
    relations: Sequence[str],
    untouched: set[tuple[int, str]],
    k: int,
) -> list[tuple[int, str]]:
    """``k`` (country, relation) facts to ask as locality: of ``relation`` and untouched by the run's edits, else of
    any relation and untouched, else of ``relation`` (see :func:`edit_requests`)."""
    pools = (
        [(i, relation) for i in others if (i, relation) in untouched],
        [(i, r) for i in others for r in relations if (i, r) in untouched],
        [(i, relation) for i in others],
    )
    pool = next(p for p in pools if len(p) >= k)
    return rng.sample(pool, k)


def image_name(country: int, variant: int) -> str:
    """The file of rendering ``variant`` of country number ``country``, relative to the images folder."""
    return f"{country:03d}-{variant}.png"


def export_images(world: VisionWorld, out: str | Path, size: int) -> Path:
    """Write the renderings edits use (the canonical one and the held-out ones of every flag) and the blank
    image into ``out/images``; returns that folder."""
    folder = Path(out) / IMAGES
    folder.mkdir(parents=True, exist_ok=True)
    for index, country in enumerate(world.countries):
        for variant in range(HELD_OUT_VARIANTS + 1):
            render(country.flag, variant, size).save(folder / image_name(index, variant))
    blank(size).save(folder / BLANK_IMAGE)
    return folder


def load_world(path: str | Path | None = None) -> VisionWorld:
    """The world a trained model was trained on (default: the shipped model's)."""
    return VisionWorld.from_json(json.loads((model_dir(path) / WORLD_FILE).read_text()))


def model_dir(path: str | Path | None = None) -> Path:
    return Path(path) if path is not None else DATA_DIR


def load(path: str | Path | None = None) -> tuple[Any, ImageTextEncoder, VisionWorld]:
    """Model (in eval mode), its processor as an encoder with the world's prompt template, and the world, from
    ``path`` (default: the shipped model), offline."""
    from transformers import LlavaForConditionalGeneration, LlavaProcessor

    from amend.testbeds.base import mark

    folder = model_dir(path)
    model = LlavaForConditionalGeneration.from_pretrained(folder, local_files_only=True)
    processor = LlavaProcessor.from_pretrained(folder, local_files_only=True)
    mark(model, "vision_world")
    return model.eval(), ImageTextEncoder(processor, TEMPLATE), load_world(folder)


def edit_requests(
    n: int,
    seed: int = 0,
    world: VisionWorld | None = None,
    folder: str | Path | None = None,
    relations: Sequence[str] = RELATION_NAMES,
    n_image_locality: int = 3,
    n_text_locality: int = 2,
) -> list[MultimodalRequest]:
    """``n`` counterfactual edits of distinct (country, relation) facts asked about the country's flag (at most
    countries × relations: 160 in the shipped world).

    Each request: the question about the canonical rendering with a new answer (another object of the relation);
    rephrases (the held-out phrasings, then the other trained ones); the held-out renderings as other images; the
    same question about other countries' flags (image locality) and questions in words about other countries (text
    locality), each with its true answer. Countries are visited in one seeded order, each time with a relation not
    edited yet, so consecutive requests concern different countries.

    Locality asks facts none of the ``n`` requests edits, so it stays defined when all of them are applied
    (sequential mode): the same relation of other countries while some is left, then another relation's question;
    only when the requests edit every fact of the world does it fall back to facts other requests edit (single mode
    is then still sound: each edit is reverted before the next).
    """
    folder = model_dir(folder)
    world = world or load_world(folder)
    images = folder / IMAGES
    rng = random.Random(seed)
    order = list(range(len(world.countries)))
    rng.shuffle(order)
    pairs = [(index, relation) for relation in relations for index in order]
    if n > len(pairs):
        raise ConfigError(f"the world has {len(pairs)} facts of {', '.join(relations)}; asked for {n}")
    untouched = set(pairs[n:])  # facts none of the n requests edits: what locality asks first
    requests = []
    for index, name in pairs[:n]:
        country, relation = world.countries[index], world.relation(name)
        true = country.facts[name]
        new = rng.choice([obj for obj in world.objects(name) if obj != true])
        others = [i for i in order if i != index]
        shown = _probes(rng, others, name, relations, untouched, n_image_locality)
        worded = [r.name for r in map(world.relation, relations) if r.text_questions]
        asked = _probes(rng, others, name if name in worded else "capital", worded, untouched, n_text_locality)
        requests.append(
            MultimodalRequest(
                prompt=relation.questions[0],
                target_new=new,
                image=images / image_name(index, 0),
                target_true=true,
                rephrase=tuple(Rephrase(q) for q in (*relation.held_out, *relation.questions[1:])),
                image_rephrase=tuple(images / image_name(index, v) for v in range(1, HELD_OUT_VARIANTS + 1)),
                locality=tuple(
                    Probe(
                        fill(world.relation(q).text_questions[0], world.countries[i].name), world.countries[i].facts[q]
                    )
                    for i, q in asked
                ),
                image_locality=tuple(
                    ImageProbe(images / image_name(i, 0), world.relation(q).questions[0], world.countries[i].facts[q])
                    for i, q in shown
                ),
                category=name,
                id=f"{country.name}/{name}",
            )
        )
    return requests
