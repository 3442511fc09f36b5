"""The knowledge world as a testbed: the shipped (or a user-trained) world model, its counterfactual requests,
its training texts as the statistics corpus, and the editing defaults measured on it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from amend.errors import ConfigError
from amend.stats import Corpus
from amend.testbeds.base import Testbed
from amend.testbeds.world import WORLD_FILE, World, edit_requests, load, load_world
from amend.testbeds.world.defaults import EDIT_DEFAULTS, stats_corpus


class WorldTestbed(Testbed):
    """The world model with its world; ``folder`` is the trained model's folder."""

    name = "world"

    def __init__(self, model: nn.Module, tokenizer: Any, world: World, folder: Path):
        self.model = model
        self.tokenizer = tokenizer
        self.world = world
        self.folder = folder
        self._corpus: Corpus | None = None

    @classmethod
    def load(cls, path: str | Path | None = None) -> WorldTestbed:
        model, tokenizer, world = load(path)
        return cls(model, tokenizer, world, Path(model.config._name_or_path))

    @classmethod
    def for_model(cls, model: nn.Module, tokenizer: Any = None) -> WorldTestbed:
        folder = Path(getattr(model.config, "_name_or_path", "") or ".")
        if not (folder / WORLD_FILE).is_file():
            raise ConfigError(
                f"this world model's folder ({str(folder)!r}) holds no {WORLD_FILE}: load it with "
                "amend.world.load(path), or pass the statistics corpus and settings yourself"
            )
        return cls(model, tokenizer, load_world(folder), folder)

    def requests(self, n: int, seed: int = 0) -> list[Any]:
        return edit_requests(n, seed, world=self.world)

    def stats_corpus(self) -> Corpus:
        if self._corpus is None:
            self._corpus = stats_corpus(self.world)
        return self._corpus

    @classmethod
    def edit_defaults(cls) -> Mapping[str, Mapping[str, Any]]:
        return EDIT_DEFAULTS
