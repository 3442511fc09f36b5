"""A knowledge store kept equal to a model's context memory.

The facts of a contextual edit live in the patch (:class:`amend.changes.ContextFacts`) and, once applied, in the
model's context memory; the store is the index searched at query time. :class:`MemoryIndex` brings the store in line
with the memory before every search: facts the memory gained are embedded and added, facts it lost are removed. A
fact's id is derived from its text (and its rank among equal texts), so a persistent store opened again over the
same facts embeds nothing anew, and rows the memory does not hold are removed (the store mirrors the model). The
store's ids are read once; after that the index assumes it is the store's only writer.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from torch import nn

from amend.changes.attachments import MemoryEntry, attached
from amend.knowledge import Fact, Hit, KnowledgeStore
from amend.prompting import prompt_text
from amend.requests import EditRequest, MultimodalRequest


def fact_sentence(request: EditRequest | MultimodalRequest, template: str) -> str:
    """The sentence a request's new fact is stored as: ``template`` with ``{prompt}`` (the filled prompt, or the
    question about the image) and ``{target}`` (the new object)."""
    return template.format(prompt=prompt_text(request.asked), target=request.target_new)


def fact_ids(texts: list[str]) -> list[str]:
    """Ids from texts: a hash of the text and its rank among the equal texts before it."""
    seen: Counter[str] = Counter()
    ids = []
    for text in texts:
        seen[text] += 1
        ids.append(f"{hashlib.sha256(text.encode()).hexdigest()[:20]}-{seen[text]}")
    return ids


class MemoryIndex:
    """``store`` kept equal to the context memory ``memory`` of ``model``.

    Attributes:
        version: Incremented whenever a sync changes the store (a cache of answers keys on it).
    """

    def __init__(self, model: nn.Module, store: KnowledgeStore, memory: str):
        self.model, self.store, self.memory = model, store, memory
        self.version = 0
        self._seen: tuple[int, ...] | None = None
        self._entries: list[MemoryEntry] = []  # held so the identities in _seen are never reused
        self._present: set[str] | None = None  # the ids in the store

    def sync(self) -> None:
        """Add the memory's new facts to the store and remove the ones it no longer holds."""
        entries = list(attached(self.model).memories.get(self.memory, []))
        identity = tuple(id(entry) for entry in entries)
        if identity == self._seen:
            return
        texts = [entry.text for entry in entries]
        wanted = dict(zip(fact_ids(texts), texts, strict=True))
        if self._present is None:
            self._present = self.store.ids()  # read once; afterwards this index is the store's only writer
        gone = self._present - set(wanted)
        if gone:
            self.store.remove(gone)
            self._present -= gone
        new = [Fact(fact_id, text) for fact_id, text in wanted.items() if fact_id not in self._present]
        if new:
            self.store.add(new)
            self._present |= {fact.id for fact in new}
        self._seen, self._entries = identity, entries
        self.version += 1

    def search(self, query: str, k: int, mode: str) -> list[Hit]:
        self.sync()
        return self.store.search(query, k, mode)
