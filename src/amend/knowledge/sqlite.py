"""The embedded knowledge store: the standard library's sqlite3, FTS5 for BM25, vectors beside the rows.

Dense search is a numpy product over every vector (about 25 ms a query at 10⁵ facts of 384 dimensions): this Python
cannot load SQLite's vector extensions, and at the sizes an embedded store serves a brute-force search is exact and
fast enough. The vectors are read once into memory and kept in step with every add and remove. Lexical search
returns FTS5's BM25 ranking but scores only the rows the query's rarest words reach when that provably changes
nothing (``knowledge/bm25.py``): five times faster at 10⁵ facts for questions holding common words.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from amend.errors import ConfigError, PatchMismatch
from amend.knowledge import bm25
from amend.knowledge.embeddings import Embedder
from amend.knowledge.store import Fact, Hit, check_mode, check_new

SCHEMA = """
CREATE TABLE IF NOT EXISTS facts (row INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, text TEXT NOT NULL, vector BLOB);
CREATE VIRTUAL TABLE IF NOT EXISTS facts_text USING fts5(text, content='facts', content_rowid='row');
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS temp.facts_vocab USING fts5vocab(main, facts_text, 'row');
"""
CANDIDATE_LIMIT = 5_000  # rows scored in Python at most; past it FTS5 scores the query (its C loop is then faster)


def _any_of(terms: Sequence[str]) -> str:
    """An FTS5 query matching any of ``terms``: each quoted, since a raw word can be FTS5 syntax ("AND", "NEAR")."""
    return " OR ".join(f'"{term}"' for term in terms)


class SQLiteStore:
    """Facts in a SQLite database (a file, or ``":memory:"``).

    Args:
        path: The database file (created if missing) or ``":memory:"``.
        embedder: Computes the vectors of dense search; without one the store searches by words only. A file keeps
            the name and size of the embedder that filled it and refuses another (its vectors would be meaningless).
    """

    def __init__(self, path: str | Path = ":memory:", embedder: Embedder | None = None):
        self.path = str(path)
        self.embedder = embedder
        self.db = sqlite3.connect(self.path)
        try:
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as err:
            raise PatchMismatch(f"{self.path} is not a knowledge store: {err}") from None
        self._check_embedder()
        self._rows: np.ndarray | None = None  # row numbers, in the order of _vectors
        self._vectors: np.ndarray | None = None
        self._counts: tuple[int, int] | None = None  # rows and tokens of the text index

    def _settings(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT name, value FROM settings").fetchall())

    def _check_embedder(self) -> None:
        stored = self._settings()
        if self.embedder is None:
            return
        mine = {"embedder": self.embedder.name, "dim": str(self.embedder.dim)}
        if not stored and not len(self):
            self.db.executemany("INSERT INTO settings VALUES (?, ?)", mine.items())
            self.db.commit()
        elif stored and stored != mine:
            raise ConfigError(f"{self.path} holds vectors of {stored}, not of {mine}")
        elif not stored:
            raise ConfigError(f"{self.path} holds facts without vectors: dense search would never find them")

    # ---- writing ------------------------------------------------------------------------------------------------

    def add(self, facts: Sequence[Fact]) -> None:
        check_new(facts, self._present([fact.id for fact in facts]))
        vectors = self.embedder.encode([fact.text for fact in facts]) if self.embedder else None
        blobs = [None] * len(facts) if vectors is None else [vector.tobytes() for vector in vectors]
        if vectors is None and self._settings():
            raise ConfigError(
                f"{self.path} holds vectors of {self._settings()}: open it with that embedder to add facts"
            )
        with self.db:  # one transaction: all or nothing
            for fact, blob in zip(facts, blobs, strict=True):
                cursor = self.db.execute(
                    "INSERT INTO facts (id, text, vector) VALUES (?, ?, ?)", (fact.id, fact.text, blob)
                )
                self.db.execute("INSERT INTO facts_text (rowid, text) VALUES (?, ?)", (cursor.lastrowid, fact.text))
        self._rows = self._vectors = self._counts = None

    def remove(self, ids: Iterable[str]) -> None:
        with self.db:
            for fact_id in ids:
                found = self.db.execute("SELECT row, text FROM facts WHERE id = ?", (fact_id,)).fetchone()
                if found is None:
                    continue
                row, text = found
                self.db.execute("INSERT INTO facts_text (facts_text, rowid, text) VALUES ('delete', ?, ?)", (row, text))
                self.db.execute("DELETE FROM facts WHERE row = ?", (row,))
        self._rows = self._vectors = self._counts = None

    def _present(self, ids: Sequence[str]) -> list[str]:
        present = []
        for fact_id in ids:
            if self.db.execute("SELECT 1 FROM facts WHERE id = ?", (fact_id,)).fetchone():
                present.append(fact_id)
        return present

    # ---- reading ------------------------------------------------------------------------------------------------

    def search(self, query: str, k: int, mode: str = "dense") -> list[Hit]:
        check_mode(mode)
        if k <= 0:
            return []
        return self._dense(query, k) if mode == "dense" else self._lexical(query, k)

    def _lexical(self, query: str, k: int) -> list[Hit]:
        """FTS5's BM25 top ``k``, scoring only the rows the query's rarest words reach when that provably gives the
        same answer (``knowledge/bm25.py``); FTS5 itself scores every matching row otherwise."""
        terms = bm25.query_terms(query)
        rows, tokens = self._totals()
        if not terms or not rows:
            return []
        hits = {term: self._hits(term) for term in terms}
        idfs = {term: bm25.idf(rows, hits[term]) for term in terms}
        rarest = sorted(terms, key=hits.__getitem__)
        for count in range(1, len(rarest) + 1):
            chosen, rest = rarest[:count], rarest[count:]
            if sum(hits[term] for term in chosen) > CANDIDATE_LIMIT:
                break
            found = self._scored(chosen, idfs, tokens / rows)[:k]
            if not rest or (len(found) == k and found[-1].score >= bm25.ceiling(idfs, rest)):
                return found
        return self._lexical_everywhere(terms, k)

    def _scored(self, terms: Sequence[str], idfs: dict[str, float], average_length: float) -> list[Hit]:
        """Every row holding one of ``terms``, scored for all the words of ``idfs``, best first."""
        found = self.db.execute(
            "SELECT facts.row, facts.id, facts.text, facts_text_docsize.sz FROM facts_text "
            "JOIN facts ON facts.row = facts_text.rowid JOIN facts_text_docsize ON facts_text_docsize.id = "
            "facts_text.rowid WHERE facts_text MATCH ?",
            (_any_of(terms),),
        ).fetchall()
        scored = [
            (bm25.score(text, bm25.varint(size), idfs, average_length), row, fact_id, text)
            for row, fact_id, text, size in found
        ]
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [Hit(fact_id, text, value) for value, _, fact_id, text in scored]

    def _lexical_everywhere(self, terms: Sequence[str], k: int) -> list[Hit]:
        rows = self.db.execute(
            "SELECT facts.id, facts.text, bm25(facts_text) AS rank FROM facts_text JOIN facts ON facts.row = "
            "facts_text.rowid WHERE facts_text MATCH ? ORDER BY rank, facts.row LIMIT ?",
            (_any_of(terms), k),
        ).fetchall()
        return [Hit(fact_id, text, -float(rank)) for fact_id, text, rank in rows]  # FTS5's bm25 is lower-better

    def _hits(self, term: str) -> int:
        found = self.db.execute("SELECT doc FROM temp.facts_vocab WHERE term = ?", (term,)).fetchone()
        return int(found[0]) if found else 0

    def _totals(self) -> tuple[int, int]:
        """Rows and tokens in the index (BM25's average row length), read once per version of the store."""
        if self._counts is None:
            tokens = self.db.execute("SELECT coalesce(sum(cnt), 0) FROM temp.facts_vocab").fetchone()[0]
            self._counts = (len(self), int(tokens))
        return self._counts

    def _dense(self, query: str, k: int) -> list[Hit]:
        if self.embedder is None:
            raise ConfigError(f"the store {self.path} has no embedder: dense search needs one")
        rows, vectors = self._matrix()
        if not len(rows):
            return []
        scores = vectors @ self.embedder.encode([query])[0]
        top = np.argsort(-scores, kind="stable")[:k]
        chosen = [int(rows[i]) for i in top]
        texts = dict(
            (row, (fact_id, text))
            for row, fact_id, text in self.db.execute(
                f"SELECT row, id, text FROM facts WHERE row IN ({','.join('?' * len(chosen))})", chosen
            )
        )
        return [Hit(*texts[row], float(scores[i])) for row, i in zip(chosen, top, strict=True)]

    def _matrix(self) -> tuple[np.ndarray, np.ndarray]:
        if self._vectors is None:
            found = self.db.execute("SELECT row, vector FROM facts WHERE vector IS NOT NULL ORDER BY row").fetchall()
            self._rows = np.array([row for row, _ in found], dtype=np.int64)
            dim = self.embedder.dim if self.embedder else 0
            self._vectors = (
                np.frombuffer(b"".join(blob for _, blob in found), dtype=np.float32).reshape(len(found), dim)
                if found
                else np.zeros((0, dim), dtype=np.float32)
            )
        assert self._rows is not None
        return self._rows, self._vectors

    def ids(self) -> set[str]:
        return {fact_id for (fact_id,) in self.db.execute("SELECT id FROM facts")}

    def texts(self, ids: Iterable[str]) -> dict[str, str]:
        wanted = list(ids)
        return {
            fact_id: text
            for fact_id, text in self.db.execute(
                f"SELECT id, text FROM facts WHERE id IN ({','.join('?' * len(wanted))})", wanted
            )
        }

    def __len__(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM facts").fetchone()[0])

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
