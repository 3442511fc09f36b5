"""The multimodal world as a testbed: the shipped (or a user-trained) tiny LLaVA, its counterfactual questions about
flags, its text questions as the statistics corpus, and the editing defaults measured on it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from amend.errors import ConfigError
from amend.prompting import ImageTextEncoder, encoder_of
from amend.requests import fill
from amend.stats import Corpus
from amend.testbeds.base import Testbed
from amend.testbeds.vision_world import WORLD_FILE, VisionWorld, edit_requests, load, load_world
from amend.testbeds.vision_world.generator import RELATIONS
from amend.testbeds.vision_world.model import TEMPLATE

# IKE's demonstrations come from the world's own requests: the shipped world has 40 countries × 4 relations.
# BalancEdit's layer copy at lr 1e-3 leaves 8 of the first 20 targets unlearnt in its 50 steps (reliability 0.60);
# 3e-3 and 1e-2 learn all 20 (harmonic mean 0.803 and 0.822, token accuracy): docs/multimodal.md.
EDIT_DEFAULTS: dict[str, dict[str, Any]] = {"ike": {"pool_size": 160}, "balancedit": {"lr": 0.01}}


class VisionWorldTestbed(Testbed):
    """The multimodal world's model with its world; ``tokenizer`` is its processor as an :class:`ImageTextEncoder`
    with the world's prompt template, what editing and evaluation both read prompts through."""

    name = "vision_world"

    def __init__(self, model: nn.Module, encoder: ImageTextEncoder, world: VisionWorld, folder: Path):
        self.model = model
        self.tokenizer = encoder
        self.world = world
        self.folder = folder

    @classmethod
    def load(cls, path: str | Path | None = None) -> VisionWorldTestbed:
        model, encoder, world = load(path)
        return cls(model, encoder, world, Path(model.config._name_or_path))

    @classmethod
    def for_model(cls, model: nn.Module, tokenizer: Any = None) -> VisionWorldTestbed:
        folder = Path(getattr(model.config, "_name_or_path", "") or ".")
        if not (folder / WORLD_FILE).is_file():
            raise ConfigError(f"this vision world model's folder ({str(folder)!r}) holds no {WORLD_FILE}")
        encoder = encoder_of(tokenizer, TEMPLATE) if tokenizer is not None else load(folder)[1]
        return cls(model, encoder, load_world(folder), folder)

    def requests(self, n: int, seed: int = 0) -> list[Any]:
        return edit_requests(n, seed, world=self.world, folder=self.folder)

    def stats_corpus(self) -> Corpus:
        """The text questions with their answers (what a text-model method's key statistics would read)."""
        texts = [
            f"{fill(question, country.name)} {country.facts[relation.name]}"
            for country in self.world.countries
            for relation in RELATIONS
            for question in relation.text_questions
        ]
        return Corpus.from_texts(texts, name=f"vision_world{self.world.seed}")

    @classmethod
    def edit_defaults(cls) -> Mapping[str, Mapping[str, Any]]:
        return EDIT_DEFAULTS
