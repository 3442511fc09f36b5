"""Train the multimodal world's tiny LLaVA from scratch on CPU, deterministically.

Each step draws a batch of questions: about a flag shown (a rendering from the training pool: the canonical one and
``train_variants`` others), about a flag shown after a sentence of context (the context's object is the answer when
it states the asked relation, the true object otherwise: reading context selectively is a skill the contextual
methods use), and in words alone about a named country. The loss is on the answer and the end token. Renderings
1 to ``HELD_OUT_VARIANTS`` and the held-out question phrasings are never trained on: the recall report measures
them, and edits use them as image and text generality.

Run: ``python -m amend.testbeds.vision_world.train --out src/amend/testbeds/vision_world/data``.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from amend.requests import fill
from amend.testbeds.base import mark
from amend.testbeds.vision_world.generator import RELATIONS, VisionWorld, generate
from amend.testbeds.vision_world.model import (
    IMAGE_TOKEN,
    Architecture,
    build_model,
    build_processor,
    build_tokenizer,
)
from amend.testbeds.vision_world.recall import recall_report
from amend.testbeds.vision_world.render import render
from amend.testbeds.world.train import lr_at, optimizer_for, train_step
from amend.tokens import pad_right, target_ids

TRAIN_VARIANT_START = 1000  # training renderings are numbered from here; 1 … 999 are never trained on
KEPT_VARIANTS = 200  # training renderings whose pixels are kept between steps
CARD_FILE = "model_card.json"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines the trained model (same config, same thread count: same weights).

    Non-obvious fields: ``train_variants`` is how many renderings of each flag beside the canonical one are trained
    on; ``visual_share``, ``context_share`` (the rest are text questions) split each batch; ``min_lr_ratio`` is the
    floor of the cosine decay; ``threads`` the torch thread count.
    """

    name: str = "default"
    seed: int = 0
    n_countries: int = 40
    architecture: Architecture = field(default_factory=Architecture)
    steps: int = 8000
    batch_size: int = 32
    lr: float = 2e-3
    min_lr_ratio: float = 0.05
    warmup_steps: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    train_variants: int = 100_000
    visual_share: float = 0.6
    context_share: float = 0.25
    threads: int = 1

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, TrainConfig] = {
    "default": TrainConfig(),
    "tiny": TrainConfig(
        name="tiny",
        n_countries=6,
        architecture=Architecture(vision_width=32, vision_layers=1, width=32, layers=2, mlp_width=64),
        steps=30,
        batch_size=8,
        warmup_steps=5,
        train_variants=3,
    ),
}


@dataclass(frozen=True)
class Example:
    """One training question: ``prompt`` (with the image placeholder when ``image`` is set), its answer, and the
    image as (country index, rendering)."""

    prompt: str
    answer: str
    image: tuple[int, int] | None


def draw(world: VisionWorld, config: TrainConfig, rng: random.Random) -> Example:
    """A random training question."""
    index = rng.randrange(len(world.countries))
    country = world.countries[index]
    kind = rng.random()
    if kind < config.visual_share + config.context_share:
        relation = rng.choice(RELATIONS)
        variant = 0 if rng.random() < 0.1 else TRAIN_VARIANT_START + rng.randrange(config.train_variants)
        question, answer = rng.choice(relation.questions), country.facts[relation.name]
        if kind >= config.visual_share:  # a sentence of context first: about the asked relation half the time
            stated = relation if rng.random() < 0.5 else rng.choice(RELATIONS)
            said = rng.choice(world.objects(stated.name))
            sentence = fill(stated.fact, said) if rng.random() < 0.5 else f"{rng.choice(stated.questions)} {said}."
            question = f"{sentence} {question}"
            answer = said if stated.name == relation.name else answer
        return Example(f"{IMAGE_TOKEN} {question}", answer, (index, variant))
    relation = rng.choice([relation for relation in RELATIONS if relation.text_questions])
    return Example(fill(rng.choice(relation.text_questions), country.name), country.facts[relation.name], None)


class Batcher:
    """Token rows with labels on the answer and the end token, and the pixels of the renderings they show
    (each rendering drawn and processed once)."""

    def __init__(self, world: VisionWorld, processor: Any, architecture: Architecture):
        self.world, self.processor, self.architecture = world, processor, architecture
        self.tokenizer = processor.tokenizer
        self.image_id = self.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        self._pixels: dict[tuple[int, int], torch.Tensor] = {}
        self._rows: dict[tuple[str, str], tuple[list[int], list[int]]] = {}

    def pixels(self, image: tuple[int, int]) -> torch.Tensor:
        """The processed pixels of a rendering; kept only for the first ``KEPT_VARIANTS`` training renderings (a
        fresh rendering every step is cheaper than the memory of a million)."""
        if image in self._pixels:
            return self._pixels[image]
        drawn = render(self.world.countries[image[0]].flag, image[1], self.architecture.image_size)
        pixels = self.processor.image_processor(drawn, return_tensors="pt")["pixel_values"][0]
        if image[1] < TRAIN_VARIANT_START + KEPT_VARIANTS:
            self._pixels[image] = pixels
        return pixels

    def row(self, example: Example) -> tuple[list[int], list[int]]:
        key = (example.prompt, example.answer)
        if key not in self._rows:
            prompt, answer = target_ids(self.tokenizer, example.prompt, example.answer)
            expanded: list[int] = []
            for token in prompt:
                expanded += [token] * (self.architecture.image_tokens if token == self.image_id else 1)
            self._rows[key] = (expanded, [*answer, self.tokenizer.eos_token_id])
        return self._rows[key]

    def batch(self, examples: list[Example]) -> dict[str, torch.Tensor]:
        rows = [self.row(example) for example in examples]
        padded = pad_right([prompt + answer for prompt, answer in rows], self.tokenizer.pad_token_id)
        labels = torch.full_like(padded.input_ids, -100)
        for i, (prompt, answer) in enumerate(rows):
            labels[i, len(prompt) : len(prompt) + len(answer)] = torch.tensor(answer)
        inputs = {"input_ids": padded.input_ids, "attention_mask": padded.attention_mask, "labels": labels}
        shown = [example.image for example in examples if example.image is not None]
        if shown:
            inputs["pixel_values"] = torch.stack([self.pixels(image) for image in shown])
        return inputs


def fit(model: Any, batcher: Batcher, world: VisionWorld, config: TrainConfig, progress: bool = True) -> list[float]:
    """Train in place; returns the mean loss of every hundred steps."""
    optimizer = optimizer_for(model, config)  # type: ignore[arg-type]
    rng = random.Random(config.seed)
    losses, window = [], []
    model.train()
    for step in tqdm(range(config.steps), disable=not progress, desc=f"vision world[{config.name}]", mininterval=5):
        examples = [draw(world, config, rng) for _ in range(config.batch_size)]
        window.append(
            train_step(model, optimizer, batcher.batch(examples), lr_at(step, config.steps, config), config.grad_clip)
        )  # type: ignore[arg-type]
        if len(window) == 100 or step == config.steps - 1:
            losses.append(round(sum(window) / len(window), 4))
            window = []
    model.eval()
    return losses


def train(config: TrainConfig, out_dir: str | Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Generate the world, train its model, measure recall, save everything to ``out_dir``; returns the model card."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    started = time.time()
    world = generate(config.seed, config.n_countries)
    tokenizer = build_tokenizer(world, config.architecture.context)
    processor = build_processor(tokenizer, config.architecture)
    model = build_model(tokenizer, config.architecture)
    mark(model, "vision_world")
    losses = fit(model, Batcher(world, processor, config.architecture), world, config, progress)
    train_seconds = time.time() - started
    card = {
        "config": config.to_json(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        "train_seconds": round(train_seconds, 1),
        "losses": losses,
        "recall": recall_report(model, processor, world),
        "torch": torch.__version__,
    }
    if out_dir is not None:
        save(model, processor, world, card, Path(out_dir))
    return card


def save(model: Any, processor: Any, world: VisionWorld, card: dict, out: Path) -> None:
    """Model (safetensors), processor (tokenizer and image processor), world, images and model card."""
    from amend.testbeds.vision_world import WORLD_FILE, export_images

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / WORLD_FILE).write_text(json.dumps(world.to_json(), indent=1, ensure_ascii=False))
    export_images(world, out, card["config"]["architecture"]["image_size"])
    (out / CARD_FILE).write_text(json.dumps(card, indent=1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    overrides = {"steps": args.steps, "threads": args.threads}
    config = replace(PRESETS[args.preset], **{k: v for k, v in overrides.items() if v is not None})
    card = train(config, args.out)
    print(json.dumps({k: card[k] for k in ("train_seconds", "parameters", "recall")}, indent=1))


if __name__ == "__main__":
    main()
