"""Pure metrics of the ability suites (each tested on hand-made outputs).

*Muting* is what Li et al. call the collapse of an edited model into empty or degenerate output ("the muting
effect"): benchmark scores fall to zero because nothing usable is generated, not because wrong answers are. amend
counts a generation as muted when it holds no word, or when it is a loop: at least ``MIN_WORDS`` words of which one
word makes up half or more ("Rome Rome Rome Rome", "the the the of the"). A short answer ("Paris.") is not muted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from amend.evaluation.metrics.fluency import word_tokens

MIN_WORDS = 4
"""A generation shorter than this many words is never called a loop (an answer can be one word)."""
LOOP_SHARE = 0.5
"""A generation whose most frequent word is at least this share of its words is a loop."""

_NUMBER = re.compile(r"-?\d+")


def is_muted(text: str, min_words: int = MIN_WORDS, loop_share: float = LOOP_SHARE) -> bool:
    """Whether a generation is empty (no word) or a loop of one word (see the module docstring)."""
    words = [token.lower() for token in word_tokens(text) if any(ch.isalnum() for ch in token)]
    if not words:
        return True
    if len(words) < min_words:
        return False
    return Counter(words).most_common(1)[0][1] / len(words) >= loop_share


def empty_rate(texts: Sequence[str]) -> float:
    """Share of ``texts`` with no word (nothing but spaces, punctuation or end tokens)."""
    if not texts:
        raise ValueError("the empty rate needs at least one text")
    return sum(not any(ch.isalnum() for ch in text) for text in texts) / len(texts)


def muting_rate(texts: Sequence[str]) -> float:
    """Share of ``texts`` that are muted (:func:`is_muted`)."""
    if not texts:
        raise ValueError("the muting rate needs at least one text")
    return sum(is_muted(text) for text in texts) / len(texts)


def first_number(text: str) -> int | None:
    """The first integer in a generation ("= 12." -> 12), or None when it holds none."""
    match = _NUMBER.search(text)
    return None if match is None else int(match.group())


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean; an empty list is an error, never a silent 0."""
    if not values:
        raise ValueError("no values to average")
    return sum(values) / len(values)
