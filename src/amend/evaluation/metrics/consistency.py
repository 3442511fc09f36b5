"""Consistency of generated text with reference text: ROME's TF-IDF cosine ("reference score", RS).

For one request ROME joins its generations into one document and its reference texts (Wikipedia snippets about
subjects that truly have the new object) into another, maps both to TF-IDF vectors and takes their cosine: a model
that now believes "Danielle Darrieux speaks English" should write text whose vocabulary resembles text about
English speakers. Vectors are raw term counts times inverse document frequency, as scikit-learn's default
``TfidfVectorizer`` computes them (lower-cased tokens of two or more word characters).

ROME uses a fixed IDF table computed on Wikipedia (``idf.npy`` and ``tfidf_vocab.json``); pass it as ``idf`` to
reproduce its numbers, and terms outside it are ignored, as a fixed vocabulary ignores them. Without a table, the
IDF is fitted on the given texts themselves, each generation and each reference one document, with scikit-learn's
smoothing: idf(t) = ln((1 + N) / (1 + df(t))) + 1.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

_TERM = re.compile(r"(?u)\b\w\w+\b")


def tfidf_terms(text: str) -> list[str]:
    """scikit-learn's default analyzer: lower-cased runs of two or more word characters."""
    return _TERM.findall(text.lower())


def fitted_idf(documents: Sequence[str], tokenize: Callable[[str], Sequence[str]] = tfidf_terms) -> dict[str, float]:
    """Smoothed inverse document frequencies of every term of ``documents``: ln((1 + N) / (1 + df)) + 1."""
    frequency: Counter[str] = Counter()
    for document in documents:
        frequency.update(set(tokenize(document)))
    n = len(documents)
    return {term: math.log((1 + n) / (1 + df)) + 1 for term, df in frequency.items()}


def tfidf_cosine(
    generations: Sequence[str],
    references: Sequence[str],
    idf: Mapping[str, float] | None = None,
    tokenize: Callable[[str], Sequence[str]] = tfidf_terms,
) -> float:
    """Cosine of the TF-IDF vectors of the joined generations and the joined references (0 when either has no
    weighted term)."""
    if not generations or not references:
        raise ValueError("consistency needs at least one generation and one reference text")
    weights = idf if idf is not None else fitted_idf([*generations, *references], tokenize)
    a = _vector(" ".join(generations), weights, tokenize)
    b = _vector(" ".join(references), weights, tokenize)
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return sum(v * b[t] for t, v in a.items() if t in b) / norm if norm else 0.0


def _vector(text: str, idf: Mapping[str, float], tokenize: Callable[[str], Sequence[str]]) -> dict[str, float]:
    counts = Counter(term for term in tokenize(text) if term in idf)
    return {term: count * idf[term] for term, count in counts.items()}
