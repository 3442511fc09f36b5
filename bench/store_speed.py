"""Knowledge-store speed: facts added per second and query latency at 10⁴ and 10⁵ facts, SQLite and PostgreSQL side
by side, lexical and dense search (docs/contextual.md).

    .venv/bin/python bench/store_speed.py [--sizes 10000 100000] [--queries 200] [--threads 2]

The facts are world sentences (every person's 7 facts: 7,000), then numbered variants until the size is reached. The
7,000 are embedded with all-MiniLM-L6-v2 (its throughput is printed); a variant's vector is its sentence's plus
Gaussian noise (σ 0.05 per coordinate, renormalised), which keeps the store's work the same without embedding 10⁵
sentences first. Vectors reach each store through a lookup embedder, so "added per second" is the store's own work;
with the embedding in the loop the embedder's rate bounds it. Queries are embedded for real (included in the dense
latency). PostgreSQL
runs from the pgserver package in a temporary folder, HNSW index built as rows arrive.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch

from amend.knowledge import Embedder, Fact, SQLiteStore
from amend.knowledge.postgres import PostgresStore
from amend.testbeds import load as load_testbed
from amend.testbeds.world.generator import PHRASES, plain_template, sentence


class Lookup:
    """An embedder answering from precomputed vectors (queries are embedded for real)."""

    def __init__(self, real: Embedder, texts: list[str], vectors: np.ndarray):
        self.real, self.name, self.dim = real, real.name, real.dim
        self.table = dict(zip(texts, vectors, strict=True))

    def encode(self, texts):
        if all(text in self.table for text in texts):
            return np.stack([self.table[text] for text in texts]) if texts else np.zeros((0, self.dim), np.float32)
        return self.real.encode(texts)


def world_sentences() -> list[str]:
    world = load_testbed("world").world
    return [
        sentence(plain_template(PHRASES[relation]), person.name, obj)
        for person in world.people
        for relation, obj in person.facts.items()
    ]


def with_variants(base: list[str], vectors: np.ndarray, n: int, rng: np.random.Generator):
    """``n`` texts and vectors: the base ones, then numbered variants with noisy copies of their vectors."""
    texts, out = list(base), [vectors]
    variant = 1
    while len(texts) < n:
        texts.extend(f"{text[:-1]} (record {variant})." for text in base)
        noisy = vectors + rng.normal(0, 0.05, vectors.shape).astype(np.float32)
        out.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
        variant += 1
    return texts[:n], np.concatenate(out)[:n]


def timed_adds(store, facts: list[Fact], chunk: int = 1000) -> float:
    start = time.perf_counter()
    for i in range(0, len(facts), chunk):
        store.add(facts[i : i + chunk])
    return len(facts) / (time.perf_counter() - start)


def latency(store, queries: list[str], mode: str) -> tuple[float, float]:
    times = []
    for query in queries:
        start = time.perf_counter()
        store.search(query, 5, mode)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, float(np.percentile(times, 95)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = world_sentences()
    real = Embedder()
    start = time.perf_counter()
    base_vectors = real.encode(base)
    print(f"embedding: {len(base) / (time.perf_counter() - start):.0f} sentences/s ({len(base)} sentences)")
    rng = np.random.default_rng(0)
    texts, vectors = with_variants(base, base_vectors, max(args.sizes), rng)
    embedder = Lookup(real, texts, vectors)
    import pgserver

    server = pgserver.get_server(tempfile.mkdtemp(), cleanup_mode="stop")
    print("| facts | backend | added/s | lexical median (p95) ms | dense median (p95) ms |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        facts = [Fact(str(i), text) for i, text in enumerate(texts[:size])]
        asked = [texts[i].rsplit(" ", 1)[0] for i in rng.choice(size, args.queries, replace=False)]
        real.encode(asked[:1])  # warm
        for backend in ("sqlite", "postgres"):
            store = (
                SQLiteStore(tempfile.mktemp(suffix=".sqlite"), embedder)
                if backend == "sqlite"
                else PostgresStore(server.get_uri(), embedder, table=f"speed_{size}")
            )
            rate = timed_adds(store, facts)
            store.search(asked[0], 5, "dense")  # SQLite reads its vectors once
            lexical, dense = latency(store, asked, "lexical"), latency(store, asked, "dense")
            print(
                f"| {size:,} | {backend} | {rate:,.0f} | {lexical[0]:.1f} ({lexical[1]:.1f}) | "
                f"{dense[0]:.1f} ({dense[1]:.1f}) |",
                flush=True,
            )
            if backend == "postgres":
                store.drop()
            store.close()
    server.cleanup()


if __name__ == "__main__":
    main()
