"""The knowledge store contextual methods search (SCR, IKE): facts as texts, lexical and dense search, two backends.

* :mod:`amend.knowledge.store` — the interface (:class:`KnowledgeStore`, :class:`Fact`, :class:`Hit`) and
  :func:`open_store` (a location: in-memory, a SQLite file or a PostgreSQL URL);
* :mod:`amend.knowledge.sqlite` — the embedded default: SQLite FTS5 (BM25) with vectors beside the rows;
* :mod:`amend.knowledge.postgres` — PostgreSQL + pgvector (HNSW), for stores that outgrow one process;
* :mod:`amend.knowledge.embeddings` — :class:`Embedder`: all-MiniLM-L6-v2 offline, or any sentence-transformers model.
"""

from amend.knowledge.embeddings import DEFAULT_EMBEDDER, Embedder
from amend.knowledge.sqlite import SQLiteStore
from amend.knowledge.store import Fact, Hit, KnowledgeStore, open_store, query_words

__all__ = ["DEFAULT_EMBEDDER", "Embedder", "Fact", "Hit", "KnowledgeStore", "SQLiteStore", "open_store", "query_words"]
