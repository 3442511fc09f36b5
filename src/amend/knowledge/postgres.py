"""The scale-out knowledge store: PostgreSQL with pgvector (an HNSW index for dense search) and its text search.

Point it at a server by URL (``postgresql://user@host/db``). Lexical search ranks with PostgreSQL's ``ts_rank_cd``
over an English ``tsvector`` (PostgreSQL has no BM25); dense search is pgvector's cosine distance through the HNSW
index, so at large sizes it is approximate where the SQLite store's is exact. Needs the ``postgres`` extra
(``psycopg``, ``pgvector``) and a server with the ``vector`` extension available.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from amend.errors import ConfigError
from amend.knowledge.embeddings import Embedder
from amend.knowledge.store import Fact, Hit, check_mode, check_new, query_words


class PostgresStore:
    """Facts in table ``table`` of the database at ``url``.

    Args:
        url: A libpq connection URL.
        embedder: Computes the vectors of dense search (required: the table's vector column has its size).
        table: The table name (letters, digits and underscores); several stores can share a database.
    """

    def __init__(self, url: str, embedder: Embedder | None = None, table: str = "amend_facts"):
        try:
            import psycopg
            from pgvector.psycopg import register_vector
        except ImportError:
            raise ConfigError("the PostgreSQL store needs the postgres extra: pip install 'amend[postgres]'") from None
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,40}", table):
            raise ConfigError(f"table name {table!r} must be letters, digits and underscores")
        if embedder is None:
            raise ConfigError("the PostgreSQL store needs an embedder (its vector column has the embedding's size)")
        self.url, self.table, self.embedder = url, table, embedder
        self.db = psycopg.connect(url, autocommit=True)
        self.db.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(self.db)
        t = table
        self.db.execute(
            f"CREATE TABLE IF NOT EXISTS {t} (row BIGSERIAL PRIMARY KEY, id TEXT UNIQUE NOT NULL, text TEXT NOT NULL, "
            f"vector vector({embedder.dim}) NOT NULL, "
            f"words tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED)"
        )
        self.db.execute(f"CREATE INDEX IF NOT EXISTS {t}_vector ON {t} USING hnsw (vector vector_cosine_ops)")
        self.db.execute(f"CREATE INDEX IF NOT EXISTS {t}_words ON {t} USING gin (words)")
        self.db.execute(f"CREATE TABLE IF NOT EXISTS {t}_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        mine = {"embedder": embedder.name, "dim": str(embedder.dim)}
        stored = dict(self.db.execute(f"SELECT name, value FROM {t}_settings").fetchall())
        if not stored:
            with self.db.transaction():
                for name, value in mine.items():
                    self.db.execute(f"INSERT INTO {t}_settings VALUES (%s, %s)", (name, value))
        elif stored != mine:
            raise ConfigError(f"table {t} at {url} holds vectors of {stored}, not of {mine}")

    def add(self, facts: Sequence[Fact]) -> None:
        ids = [fact.id for fact in facts]
        present = [row[0] for row in self.db.execute(f"SELECT id FROM {self.table} WHERE id = ANY(%s)", (ids,))]
        check_new(facts, present)
        vectors = self.embedder.encode([fact.text for fact in facts])
        with self.db.transaction(), self.db.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {self.table} (id, text, vector) VALUES (%s, %s, %s)",
                [(fact.id, fact.text, vector) for fact, vector in zip(facts, vectors, strict=True)],
            )

    def remove(self, ids: Iterable[str]) -> None:
        self.db.execute(f"DELETE FROM {self.table} WHERE id = ANY(%s)", (list(ids),))

    def search(self, query: str, k: int, mode: str = "dense") -> list[Hit]:
        check_mode(mode)
        if k <= 0:
            return []
        if mode == "dense":
            vector = self.embedder.encode([query])[0].astype(np.float32)
            with self.db.transaction():
                self.db.execute(f"SET LOCAL hnsw.ef_search = {max(40, int(k))}")
                rows = self.db.execute(
                    f"SELECT id, text, 1 - (vector <=> %s) FROM {self.table} ORDER BY vector <=> %s, row LIMIT %s",
                    (vector, vector, k),
                ).fetchall()
            return [Hit(fact_id, text, float(score)) for fact_id, text, score in rows]
        words = query_words(query)
        if not words:
            return []
        rows = self.db.execute(
            f"SELECT id, text, ts_rank_cd(words, q) AS rank FROM {self.table}, to_tsquery('english', %s) q "
            f"WHERE words @@ q ORDER BY rank DESC, row LIMIT %s",
            (" | ".join(words), k),
        ).fetchall()
        return [Hit(fact_id, text, float(rank)) for fact_id, text, rank in rows]

    def ids(self) -> set[str]:
        return {row[0] for row in self.db.execute(f"SELECT id FROM {self.table}")}

    def texts(self, ids: Iterable[str]) -> dict[str, str]:
        return dict(self.db.execute(f"SELECT id, text FROM {self.table} WHERE id = ANY(%s)", (list(ids),)).fetchall())

    def __len__(self) -> int:
        return int(self.db.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0])

    def drop(self) -> None:
        """Delete the table and its settings (tests, or starting over)."""
        self.db.execute(f"DROP TABLE IF EXISTS {self.table}")
        self.db.execute(f"DROP TABLE IF EXISTS {self.table}_settings")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
