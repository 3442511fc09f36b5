"""BM25 as SQLite's FTS5 computes it, for a search that scores only the rows its rarest words can reach.

FTS5's ``bm25()`` scores every row matching any word of an OR query, so a question holding a common word ("in",
"lives") costs a pass over most of a large store. A row's score is a sum over the query's words of
``idf(word) * tf_part``, and ``tf_part`` is below ``K1 + 1`` whatever the row: a row holding none of a set of words
therefore scores below the sum of the other words' ``idf * (K1 + 1)``. The store takes the rarest words first, scores
the rows they match in full here, and stops adding words as soon as the k-th score reaches that ceiling: the top k
are then exactly FTS5's (the MaxScore argument of dynamic pruning).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence

K1 = 1.2  # FTS5's bm25() constants (fts5_aux.c)
B = 0.75
SMALLEST_IDF = 1e-6  # FTS5 puts this in place of an idf at or below zero (a word in more than half the rows)


def tokens(text: str) -> list[str]:
    """The words of ``text`` as FTS5's default tokenizer (unicode61) indexes them: runs of letters and digits,
    lowercased, with diacritics removed ("Café" → "cafe"; an underscore separates words)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(char for char in decomposed if not unicodedata.combining(char))
    return re.findall(r"[^\W_]+", folded)


def query_terms(query: str) -> list[str]:
    """The distinct words of a query in order of appearance (FTS5 sums the words' scores in that order)."""
    return list(dict.fromkeys(tokens(query)))


def idf(rows: int, hits: int) -> float:
    """FTS5's inverse document frequency of a word found in ``hits`` of ``rows`` rows."""
    value = math.log((rows - hits + 0.5) / (hits + 0.5))
    return value if value > 0 else SMALLEST_IDF


def score(text: str, length: int, idfs: Mapping[str, float], average_length: float) -> float:
    """The BM25 score (higher is better) of a row of ``length`` tokens for the words of ``idfs``, in their order."""
    counts = Counter(tokens(text))
    total = 0.0
    for term, weight in idfs.items():
        frequency = counts.get(term, 0)
        total += weight * (frequency * (K1 + 1.0)) / (frequency + K1 * (1 - B + B * length / average_length))
    return total


def ceiling(idfs: Mapping[str, float], terms: Sequence[str]) -> float:
    """A bound no row reaches through ``terms`` alone: each word adds less than ``idf * (K1 + 1)``."""
    return sum(idfs[term] * (K1 + 1.0) for term in terms)


def varint(blob: bytes) -> int:
    """The first SQLite varint of ``blob``: FTS5 stores each row's token count in its ``_docsize`` table this way."""
    value = 0
    for index, byte in enumerate(blob[:9]):
        if index == 8:
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value
    return value
