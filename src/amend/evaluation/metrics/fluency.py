"""Fluency of generated text: ROME's weighted n-gram entropy (CounterFact's "generation entropy", GE).

ROME (Meng et al. 2022) scores a generated text by the entropy, in bits, of the relative frequencies of its
bigrams and of its trigrams, weighted 2/3 and 4/3, and takes the arithmetic mean of the two weighted entropies:

    fluency(text) = mean(2/3 · H₂, 4/3 · H₃),   Hₙ = −Σ_g f_g · log₂ f_g over the text's n-grams g

A dataset's fluency is the mean over its texts; papers print it ×100 (GPT-2 XL unedited: about 626). Text that
repeats itself has few distinct n-grams and a low score, which is what the metric is for: edits that make a model
babble the new object ("Rome Rome Rome") lower it.

Differences from ROME's code, both deliberate: the default tokenizer is a regular expression (words and runs of
punctuation) rather than ``nltk.word_tokenize``, which needs downloaded data; pass ``tokenize=nltk.word_tokenize``
for exact parity. A text with fewer than n tokens has no n-grams and entropy 0 here (NaN in ROME's code).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence

NGRAM_WEIGHTS: tuple[tuple[int, float], ...] = ((2, 2 / 3), (3, 4 / 3))
_WORD_OR_PUNCTUATION = re.compile(r"\w+|[^\w\s]+")

Tokenizer = Callable[[str], Sequence[str]]


def word_tokens(text: str) -> list[str]:
    """Words and runs of punctuation, in order ("It's 5." -> It ' s 5 .)."""
    return _WORD_OR_PUNCTUATION.findall(text)


def ngram_entropy(tokens: Sequence[str], n: int) -> float:
    """Entropy in bits of the relative frequencies of the n-grams of ``tokens`` (0 when there are none)."""
    counts = Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    total = sum(counts.values())
    return -sum(c / total * math.log2(c / total) for c in counts.values()) if total else 0.0


def fluency(text: str, tokenize: Tokenizer = word_tokens) -> float:
    """ROME's score of one text: the mean of 2/3 of its bigram entropy and 4/3 of its trigram entropy."""
    tokens = list(tokenize(text))
    weighted = [weight * ngram_entropy(tokens, n) for n, weight in NGRAM_WEIGHTS]
    return sum(weighted) / len(weighted)


def mean_fluency(texts: Sequence[str], tokenize: Tokenizer = word_tokens) -> float:
    """The mean fluency of several texts (a request's generations), as ROME aggregates them."""
    if not texts:
        raise ValueError("fluency needs at least one text")
    return sum(fluency(text, tokenize) for text in texts) / len(texts)
