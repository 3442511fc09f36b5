"""The configuration fields and the write every contextual method shares: the fact goes into a context memory as a
sentence; only how a query reads the memory differs (each method's ``observed``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import ClassVar

from amend.changes import ContextFacts, Journal
from amend.errors import ConfigError
from amend.knowledge.embeddings import DEFAULT_EMBEDDER
from amend.knowledge.store import SEARCH_MODES
from amend.methods.base import EditMethod
from amend.methods.config import MethodConfig, option
from amend.methods.contextual.index import fact_sentence
from amend.requests import EditRequest


@dataclasses.dataclass(frozen=True)
class ContextualConfig(MethodConfig):
    """Fields of every contextual method. ``TEMPLATES`` names each template field and the placeholders it must hold."""

    TEMPLATES: ClassVar[Mapping[str, tuple[str, ...]]] = {"fact_template": ("{prompt}", "{target}")}

    fact_template: str = option("{prompt} {target}.", "The stored sentence of a fact ({prompt}: the filled prompt).")
    memory: str = option("default", "The context memory the facts go to.")
    retrieval: str = option("dense", "How the stored facts are searched: 'dense' (embeddings, cosine) or 'lexical'.")
    embedder: str = option(DEFAULT_EMBEDDER, "Sentence-transformers model of dense search (a name or a folder).")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.retrieval not in SEARCH_MODES:
            raise ConfigError(f"retrieval must be one of {', '.join(SEARCH_MODES)}, not {self.retrieval!r}")
        for name, fields in self.TEMPLATES.items():
            missing = [field for field in fields if field not in getattr(self, name)]
            if missing:
                raise ConfigError(f"{name} must contain {' and '.join(missing)}")


class ContextualEdit(EditMethod):
    """Writes each request's fact as a sentence into the config's context memory; the network is not touched."""

    config: ContextualConfig

    def write(self, requests: Sequence[EditRequest], journal: Journal) -> None:
        facts = tuple(fact_sentence(request, self.config.fact_template) for request in requests)
        journal.add(ContextFacts(facts, self.config.memory))
        self.log["facts"] = list(facts)
