"""The knowledge store on both backends (SQLite, PostgreSQL + pgvector): planted facts found first by words and by
meaning, adds all-or-nothing, removal, persistence across connections, and the embedder a store was built with."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amend.errors import ConfigError
from amend.knowledge import Fact, SQLiteStore, bm25, query_words
from amend.knowledge.postgres import PostgresStore
from amend.knowledge.sqlite import CANDIDATE_LIMIT

PLANTED = Fact("planted", "The Eiffel Tower is located in Rome.")
DISTRACTORS = [
    Fact(f"d{i}", text)
    for i, text in enumerate(
        [
            "The Louvre is located in Paris.",
            "Tower Bridge crosses the Thames in London.",
            "Mount Fuji is the highest mountain in Japan.",
            "The Colosseum is an amphitheatre in Rome.",
            "Bananas are a good source of potassium.",
            "The Great Wall of China is thousands of kilometres long.",
            "Marie Curie won two Nobel prizes.",
            "The Amazon river flows through Brazil.",
            "Python is a programming language.",
            "The Sydney Opera House opened in 1973.",
            "Lionel Messi plays football.",
            "The Statue of Liberty was a gift from France.",
        ]
    )
]
QUESTION = 'Where is the "Eiffel Tower"?'
tables = itertools.count()


@pytest.fixture(params=["sqlite", "postgres"])
def open_backend(request, embedder, tmp_path):
    """Opens a store of the parametrised backend at one location; every call reopens the same store."""
    if request.param == "sqlite":
        path = tmp_path / "facts.sqlite"
        opened = []

        def open_sqlite(with_embedder=embedder):
            opened.append(SQLiteStore(path, with_embedder))
            return opened[-1]

        yield open_sqlite
        for store in opened:
            store.close()
        return
    url = request.getfixturevalue("postgres_url")
    table = f"facts_{next(tables)}"
    opened = []

    def open_postgres(with_embedder=embedder):
        opened.append(PostgresStore(url, with_embedder, table=table))
        return opened[-1]

    yield open_postgres
    opened[-1].drop()
    for store in opened:
        store.close()


@pytest.mark.parametrize("mode", ["lexical", "dense"])
def test_the_planted_fact_comes_first(open_backend, mode):
    store = open_backend()
    store.add([*DISTRACTORS, PLANTED])
    hits = store.search(QUESTION, 3, mode)
    assert hits[0].id == "planted" and hits[0].text == PLANTED.text
    assert 2 <= len(hits) <= 3 and hits[0].score > hits[1].score  # lexical: only facts sharing a (non-stop) word
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_dense_scores_are_the_cosine_similarity_of_the_embeddings(open_backend, embedder):
    store = open_backend()
    store.add([*DISTRACTORS, PLANTED])
    hits = store.search("a famous tower in Europe", 4, "dense")
    query = embedder.encode(["a famous tower in Europe"])[0]
    texts = embedder.encode([hit.text for hit in hits])
    np.testing.assert_allclose([hit.score for hit in hits], texts @ query, atol=1e-5)
    everything = embedder.encode([fact.text for fact in [*DISTRACTORS, PLANTED]]) @ query
    assert hits[0].score == pytest.approx(everything.max(), abs=1e-5)  # the exact nearest


def test_an_add_with_a_stored_id_stores_nothing_of_the_call(open_backend):
    store = open_backend()
    store.add([PLANTED])
    with pytest.raises(ConfigError, match="'planted' is already stored"):
        store.add([Fact("new", "The Moon orbits the Earth."), Fact("planted", "another text")])
    with pytest.raises(ConfigError, match="already stored"):
        store.add([Fact("x", "one"), Fact("x", "two")])
    assert store.ids() == {"planted"} and len(store) == 1


def test_removed_facts_are_found_by_neither_search(open_backend):
    store = open_backend()
    store.add([*DISTRACTORS, PLANTED])
    store.remove(["planted", "unknown"])
    assert "planted" not in store.ids() and len(store) == len(DISTRACTORS)
    for mode in ("lexical", "dense"):
        assert all(hit.id != "planted" for hit in store.search(QUESTION, len(DISTRACTORS) + 1, mode))


def test_the_store_round_trips_through_a_new_connection(open_backend):
    store = open_backend()
    store.add([*DISTRACTORS, PLANTED])
    before = {mode: store.search("tower", 5, mode) for mode in ("lexical", "dense")}
    store.close()
    again = open_backend()
    assert again.ids() == {fact.id for fact in [*DISTRACTORS, PLANTED]}
    assert {mode: again.search("tower", 5, mode) for mode in ("lexical", "dense")} == before


class OtherEmbedder:
    name, dim = "other-model", 384

    def encode(self, texts):
        return np.ones((len(texts), self.dim), dtype=np.float32) / np.sqrt(self.dim)


def test_a_store_refuses_an_embedder_other_than_the_one_that_filled_it(open_backend):
    open_backend().add([PLANTED])
    with pytest.raises(ConfigError, match="holds vectors of"):
        open_backend(OtherEmbedder())


def test_queries_are_words_only_so_punctuation_is_never_search_syntax():
    assert query_words('Where is "the" Eiffel-Tower? (OR) NEAR') == [
        "where",
        "is",
        "the",
        "eiffel",
        "tower",
        "or",
        "near",
    ]
    store = SQLiteStore()
    store.add([PLANTED])
    assert store.search('"?*(', 3, "lexical") == []
    assert store.search("NEAR OR AND NOT", 3, "lexical") == []
    with pytest.raises(ConfigError, match="dense search needs"):
        store.search("tower", 1, "dense")


def test_a_store_filled_without_vectors_refuses_an_embedder(tmp_path, embedder):
    SQLiteStore(tmp_path / "words.sqlite").add([PLANTED])  # lexical only
    with pytest.raises(ConfigError, match="without vectors"):
        SQLiteStore(tmp_path / "words.sqlite", embedder)


# ---- lexical search in two stages (knowledge/bm25.py) -------------------------------------------------------------

WORDS = ["in", "the", "lives", "rome", "paris", "tower", "eiffel", "river", "zoë", "café", "x1", "record"]
skewed_word = st.sampled_from(WORDS[:3] * 6 + WORDS[3:])  # a few words in most rows, as in real facts


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.lists(skewed_word, min_size=1, max_size=8).map(" ".join), min_size=1, max_size=40),
    query=st.lists(st.sampled_from([*WORDS, "absent"]), min_size=1, max_size=5).map(" ".join),
    k=st.integers(1, 6),
)
def test_two_stage_lexical_search_returns_what_fts5_scoring_every_row_returns(texts, query, k):
    store = SQLiteStore()
    store.add([Fact(str(i), text) for i, text in enumerate(texts)])
    assert len(store) < CANDIDATE_LIMIT  # so every answer below comes from the two-stage search
    found = store.search(query, k, "lexical")
    everywhere = store._lexical_everywhere(bm25.query_terms(query), k)
    assert [hit.id for hit in found] == [hit.id for hit in everywhere]
    assert [hit.score for hit in found] == pytest.approx([hit.score for hit in everywhere], rel=1e-12)


def test_a_rare_word_alone_selects_the_rows_that_are_scored(monkeypatch):
    store = SQLiteStore()
    store.add([Fact(f"d{i}", f"Person {i} lives in the city.") for i in range(300)] + [PLANTED])
    scored = []
    real = store._scored
    monkeypatch.setattr(store, "_scored", lambda terms, *rest: scored.append(list(terms)) or real(terms, *rest))
    monkeypatch.setattr(store, "_lexical_everywhere", None)  # never reached
    found = store.search("Who lives in the Eiffel tower", 1, "lexical")
    assert [hit.id for hit in found] == ["planted"]
    # "who" is in no row; "eiffel" and "tower" reach one, and no row with only "lives", "in", "the" can beat it
    assert scored == [["who"], ["who", "eiffel"], ["who", "eiffel", "tower"]]


def test_the_lexical_index_reads_words_as_fts5_does():
    assert bm25.tokens("Café_au-lait, ZOË 42") == ["cafe", "au", "lait", "zoe", "42"]
    store = SQLiteStore()
    store.add([Fact("c", "Zoë owns the Café Noir."), *DISTRACTORS])
    assert [hit.id for hit in store.search("cafe zoe", 1, "lexical")] == ["c"]
    assert [hit.id for hit in store.search("café", 1, "lexical")] == ["c"]


def test_fts5_row_lengths_are_read_as_sqlite_varints():
    assert bm25.varint(b"\x04") == 4
    assert bm25.varint(b"\x86\x8d\x20") == 100_000  # (6·128 + 13)·128 + 32
    assert bm25.varint(b"\x81\x00\x7f") == 128
