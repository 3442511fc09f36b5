"""IKE as an amend method: an edit stores the new fact; evaluation asks every query after its demonstrations.

The original edits one fact at a time and knows which fact a query is about. Here the memory may hold many facts
(batch and sequential modes), so a query is asked about the stored fact nearest to it in meaning; with one fact in
the memory (single mode) that is the edited fact, as in the original. When the demonstrations do not fit the model's
context, the farthest are left out.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from amend.architectures import anatomy
from amend.datasets import load as load_dataset
from amend.errors import ConfigError
from amend.knowledge import Embedder, SQLiteStore
from amend.lm import ContextualLM, LanguageModel
from amend.methods.contextual import MemoryIndex
from amend.methods.contextual.base import ContextualEdit
from amend.methods.ike.config import IkeConfig
from amend.methods.ike.demonstrations import DemonstrationPool, PoolFact
from amend.requests import EDIT, MULTIMODAL, EditRequest
from amend.testbeds.base import testbed_of
from amend.tokens import encode

ANSWER_ROOM = 32  # tokens kept free after the prompt for the scored or generated answer


class Ike(ContextualEdit):
    """In-context knowledge editing: no weight changes; each fact is a sentence in the model's context memory."""

    name = "ike"
    reads = (EDIT, MULTIMODAL)
    config_cls = IkeConfig
    config: IkeConfig

    @classmethod
    def observed(cls, lm: LanguageModel, model: nn.Module, config: IkeConfig) -> LanguageModel:  # type: ignore[override]
        encoder = getattr(lm, "encoder", None)  # a vision-language backend: its images take room in the context
        reserved = encoder.image_tokens() if encoder is not None else 0
        return ContextualLM(lm, InContext(model, config, getattr(lm, "tokenizer", None), reserved))


def pool_requests(model: nn.Module, config: IkeConfig) -> list[EditRequest]:
    """The requests demonstrations are made from: ``pool_path``'s, else the testbed's own pool."""
    if config.pool_path:
        return load_dataset(config.pool_format, config.pool_path, skip_invalid=True)[: config.pool_size]
    testbed = testbed_of(model)
    if testbed is None:
        raise ConfigError("IKE needs a pool of requests for its demonstrations: set pool_path (and pool_format)")
    return testbed.requests(config.pool_size, seed=config.pool_seed)


class InContext:
    """IKE's context function: a query to the prompt with the demonstrations of its fact, or None without facts."""

    def __init__(self, model: nn.Module, config: IkeConfig, tokenizer: Any = None, reserved: int = 0):
        self.config, self.tokenizer = config, tokenizer
        self.budget = anatomy(model).context_length - ANSWER_ROOM - reserved
        needed = config.retrieval == "dense" or config.demonstrations > 0
        embedder = Embedder(config.embedder) if needed else None
        self.index = MemoryIndex(model, SQLiteStore(":memory:", embedder), config.memory)
        self.pool = None
        if config.demonstrations > 0:
            facts = [PoolFact.of(request, config.fact_template) for request in pool_requests(model, config)]
            self.pool = DemonstrationPool(facts, embedder)
        self._demos: dict[str, list[str]] = {}

    def __call__(self, query: str) -> str | None:
        hits = self.index.search(query, self.config.facts_per_query, self.config.retrieval)
        if not hits:
            return None
        fact, config = " ".join(hit.text for hit in reversed(hits)), self.config
        if fact not in self._demos:
            self._demos[fact] = (
                self.pool.for_fact(fact, config.demonstrations, config.demo_template, config.seed) if self.pool else []
            )
        own = config.demo_template.format(fact=fact, prompt=fact)
        asked = config.demo_template.format(fact=fact, prompt=query)
        demos = self._demos[fact]
        while demos and self.tokens(config.separator.join([*demos, own, asked])) > self.budget:
            demos = demos[1:]  # the farthest demonstration first: the prompt must fit the model's context
        return config.separator.join([*demos, own, asked])

    def tokens(self, text: str) -> int:
        return 0 if self.tokenizer is None else len(encode(self.tokenizer, text))
