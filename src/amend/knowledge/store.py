"""The knowledge store's interface: facts as texts with ids, searched by words (lexical) or by meaning (dense).

Contextual methods keep the facts of their edits in a patch (:class:`amend.changes.ContextFacts`); a store is the
index they search, kept equal to the facts the model holds. Two backends share this interface and its tests: the
embedded default (:class:`~amend.knowledge.sqlite.SQLiteStore`: SQLite FTS5 for BM25, vectors beside the rows searched
with numpy) and the scale-out one (:class:`~amend.knowledge.postgres.PostgresStore`: PostgreSQL + pgvector, HNSW).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from amend.errors import ConfigError

SEARCH_MODES = ("dense", "lexical")


@dataclass(frozen=True)
class Fact:
    """A stored fact: its id (unique in the store) and its text."""

    id: str
    text: str


@dataclass(frozen=True)
class Hit:
    """A search result: the fact and its score (higher is better; cosine similarity for dense search, the backend's
    lexical rank for lexical search)."""

    id: str
    text: str
    score: float


@runtime_checkable
class KnowledgeStore(Protocol):
    """Add facts, remove them, search the top k with scores; persistent where the backend is."""

    def add(self, facts: Sequence[Fact]) -> None:
        """Store ``facts``; an id already stored is an error (nothing of the call is stored then)."""
        ...

    def remove(self, ids: Iterable[str]) -> None:
        """Forget the facts with these ids (unknown ids are ignored)."""
        ...

    def search(self, query: str, k: int, mode: str = "dense") -> list[Hit]:
        """The ``k`` best facts for ``query``, best first."""
        ...

    def ids(self) -> set[str]:
        """The ids of every stored fact."""
        ...

    def __len__(self) -> int: ...

    def close(self) -> None: ...


def query_words(query: str) -> list[str]:
    """The words of a free-text query, for a lexical index: letters and digits only (a question mark or a quote is
    syntax to FTS5 and to tsquery), lowercased, each once, in order."""
    seen: dict[str, None] = {}
    for word in re.findall(r"\w+", query.lower()):
        seen.setdefault(word, None)
    return list(seen)


def check_mode(mode: str) -> None:
    if mode not in SEARCH_MODES:
        raise ConfigError(f"search mode must be one of {', '.join(SEARCH_MODES)}, not {mode!r}")


def check_new(facts: Sequence[Fact], present: Iterable[str] = ()) -> None:
    """Every fact has a non-empty id and text, no id repeats in ``facts`` or is in ``present``."""
    seen = set(present)
    for index, fact in enumerate(facts):
        if not isinstance(fact.id, str) or not fact.id or not isinstance(fact.text, str) or not fact.text.strip():
            raise ConfigError(f"fact {index} needs a non-empty id and text, got {fact!r}")
        if fact.id in seen:
            raise ConfigError(f"fact {index}: id {fact.id!r} is already stored")
        seen.add(fact.id)


def open_store(location: str, embedder=None) -> KnowledgeStore:
    """A store from a location: ``""`` or ``":memory:"`` an in-memory SQLite store, a ``postgresql://`` URL a
    PostgreSQL one, any other text a SQLite file."""
    if location.startswith(("postgresql://", "postgres://")):
        from amend.knowledge.postgres import PostgresStore

        return PostgresStore(location, embedder)
    from amend.knowledge.sqlite import SQLiteStore

    return SQLiteStore(location or ":memory:", embedder)
