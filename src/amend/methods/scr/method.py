"""SCR as an amend method: an edit stores sentences in a context memory; evaluation reads through the selection."""

from __future__ import annotations

from torch import nn

from amend.knowledge import Embedder, open_store
from amend.lm import ContextualLM, LanguageModel
from amend.methods.contextual import MemoryIndex
from amend.methods.contextual.base import ContextualEdit
from amend.methods.scr.config import ScrConfig
from amend.methods.scr.reader import SelectiveReader


class Scr(ContextualEdit):
    """Selective contextual reasoning: no weight changes; each fact is a sentence in the model's context memory."""

    name = "scr"
    config_cls = ScrConfig
    config: ScrConfig

    @classmethod
    def observed(cls, lm: LanguageModel, model: nn.Module, config: ScrConfig) -> LanguageModel:  # type: ignore[override]
        return ContextualLM(lm, reader(lm, model, config))


def reader(lm: LanguageModel, model: nn.Module, config: ScrConfig, embedder: Embedder | None = None) -> SelectiveReader:
    """SCR's reader of ``model``'s memory through ``lm``, with the store the config names and ``embedder`` (by
    default the config's, loaded here; dense retrieval only)."""
    if embedder is None and config.retrieval == "dense":
        embedder = Embedder(config.embedder)
    index = MemoryIndex(model, open_store(config.store, embedder), config.memory)
    return SelectiveReader(lm, index, config, getattr(lm, "tokenizer", None))
