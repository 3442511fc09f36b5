"""Generation exact match: greedy output, cut at the end of its first clause, normalised, equals the answer."""

from __future__ import annotations

import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_CLAUSE_END = re.compile(r"[.!?;](?=\s|$)|\n")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """SQuAD-style normalisation: lowercase, no punctuation, no articles, single spaces."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def first_clause(generation: str) -> str:
    """The generation up to its first newline or sentence-ending mark (a '.' inside "U.S." does not end it)."""
    match = _CLAUSE_END.search(generation)
    return generation if match is None else generation[: match.start()]


def exact_match(generation: str, answer: str) -> bool:
    """Whether the generation's first clause, normalised, is the answer.

    An answer that itself contains a clause mark ("U.S. Army") also matches when the generation spells it out
    and then ends its clause.
    """
    if normalize(first_clause(generation)) == normalize(answer):
        return True
    text = generation.strip()
    if not text.lower().startswith(answer.strip().lower()):
        return False
    rest = text[len(answer.strip()) :]
    return rest == "" or _CLAUSE_END.match(rest.lstrip(" ")) is not None
