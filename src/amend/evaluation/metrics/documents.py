"""Document-editing metrics (DocMEdit, Zeng et al. 2025), as pure functions of texts and an entity extractor.

The paper's names, with the reference code's in brackets:

* **DR** [AR] — ROUGE-L F1 between the target's additions and the prediction's additions, joined;
* **DE** [AT] — recall of the new entities: B = E(target) − E(source), C = E(prediction) − E(source), |C ∩ B| / |B|;
  **WAT** weights each document's DE by its number of evidence facts;
* **ER** — for each evidence fact, the best ROUGE-L F1 against any predicted addition;
* **EE** [ET] — for each fact, the share of its new entities, I = E(fact) ∩ B, that the prediction adds;
* **RSE** — ROUGE-L between the target's sentences copied from the source and the prediction's (1 when nothing is
  to be kept or the prediction holds the whole source);
* **ESE** [TSE] — the share of the source entities the target keeps, E(source) ∩ E(target), that the prediction keeps.

An *addition* is a sentence (the text split on "." as the reference splits it) whose TF-IDF cosine to the whole
source is below a threshold (0.7), the vectoriser fitted on the source and the document's sentences. That rule
(``rule="source"``, the reference's) counts sentences copied verbatim from a long source as additions too (a copy of
one sentence of a two-sentence source can score 0.67); ``rule="sentence"`` compares each sentence with the most
similar single source sentence instead, so a copied sentence is never an addition.

A value is **undefined** (NaN) when its denominator is empty (no new entity, no kept entity, no target addition);
undefined values are excluded from means and counted (:func:`summarise`). The reference fills undefined per-fact
values with the document mean or ``random.random()``, and leaves zero DE values out of its mean; neither is done
here, and the reference's DE mean is reported beside the honest one under its own name (``DE_nonzero``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Entities = Callable[[str], frozenset[str]]
"""An entity extractor: a text to the set of entity strings in it."""

ADDITION_THRESHOLD = 0.7
ADDITION_RULES = ("source", "sentence")
NAN = float("nan")


def split_sentences(text: str) -> list[str]:
    """The reference's sentences: ``text`` split on ".", stripped, empty pieces dropped (so "Dr." splits too)."""
    return [piece.strip() for piece in text.split(".") if piece.strip()]


def additions(source: str, document: str, threshold: float = ADDITION_THRESHOLD, rule: str = "source") -> list[str]:
    """The sentences of ``document`` whose TF-IDF cosine to the whole ``source`` (``rule="source"``) or to its most
    similar sentence (``rule="sentence"``) is below ``threshold``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if rule not in ADDITION_RULES:
        raise ValueError(f"addition rule must be one of {ADDITION_RULES}, not {rule!r}")
    sentences = split_sentences(document)
    if not sentences:
        return []
    vectoriser = TfidfVectorizer()
    try:
        vectoriser.fit([source, *sentences])
    except ValueError:  # no word at all (empty vocabulary): nothing can be similar to the source
        return sentences
    compared = [source] if rule == "source" else split_sentences(source) or [source]
    cosines = (vectoriser.transform(sentences) @ vectoriser.transform(compared).T).toarray()  # rows L2-normalised
    return [s for s, row in zip(sentences, cosines, strict=True) if row.max() < threshold]


def rouge_l(reference: str, prediction: str, stemmer: bool) -> float:
    """ROUGE-L F1 of ``prediction`` against ``reference`` (``rouge-score``; 0 when either has no word)."""
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(["rougeL"], use_stemmer=stemmer).score(reference, prediction)["rougeL"].fmeasure


def copied_sentences(source: str, document: str) -> list[str]:
    """The sentences of ``document`` that are sentences of ``source`` verbatim, in the document's order."""
    kept = set(split_sentences(source))
    return [s for s in split_sentences(document) if s in kept]


def holds_whole(document: str, part: str) -> bool:
    """Whether ``document`` contains ``part`` (whitespace runs compared as one space)."""
    return " ".join(part.split()) in " ".join(document.split())


def share(found: frozenset[str] | set[str], wanted: frozenset[str] | set[str]) -> float:
    """|found ∩ wanted| / |wanted|, NaN when nothing is wanted."""
    return len(found & wanted) / len(wanted) if wanted else NAN


@dataclass(frozen=True)
class DocumentScores:
    """Every metric of one predicted document. Per-fact values are in evidence order; NaN marks undefined values.

    Attributes:
        dr: ROUGE-L F1 of the joined additions (NaN when the target adds nothing).
        de: Recall of the target's new entities (NaN when it has none).
        er: Per fact, the best ROUGE-L F1 against a predicted addition (0 when the prediction adds nothing).
        ee: Per fact, the share of its new entities the prediction adds (NaN when the fact brings none).
        rse: ROUGE-L of the sentences kept verbatim from the source (1 when none should be, or all are).
        ese: Share of the source entities the target keeps that the prediction keeps (NaN when it keeps none).
        target_additions: The target's added sentences.
        predicted_additions: The prediction's added sentences.
    """

    dr: float
    de: float
    er: tuple[float, ...]
    ee: tuple[float, ...]
    rse: float
    ese: float
    target_additions: tuple[str, ...] = ()
    predicted_additions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "DR": self.dr,
            "DE": self.de,
            "ER": list(self.er),
            "EE": list(self.ee),
            "RSE": self.rse,
            "ESE": self.ese,
            "target_additions": list(self.target_additions),
            "predicted_additions": list(self.predicted_additions),
        }


@dataclass(frozen=True)
class DocumentMetricSettings:
    """How documents are compared.

    Attributes:
        threshold: A sentence is an addition when its TF-IDF cosine to the source is below this (the reference: 0.7).
        rule: ``source`` (the reference: cosine to the whole source) or ``sentence`` (to its closest sentence).
        stemmer: ROUGE-L with the Porter stemmer (the reference code passes it in some places and not in others;
            here one setting, recorded with every result).
    """

    threshold: float = ADDITION_THRESHOLD
    rule: str = "source"
    stemmer: bool = True

    def __post_init__(self) -> None:
        if self.rule not in ADDITION_RULES:
            raise ValueError(f"addition rule must be one of {ADDITION_RULES}, not {self.rule!r}")


def score_document(
    source: str,
    target: str,
    prediction: str,
    evidence: Sequence[str],
    entities: Entities,
    settings: DocumentMetricSettings = DocumentMetricSettings(),
) -> DocumentScores:
    """Every DocMEdit metric of ``prediction``, the model's update of ``source`` given ``evidence``."""
    stem = settings.stemmer
    wanted = additions(source, target, settings.threshold, settings.rule)
    added = additions(source, prediction, settings.threshold, settings.rule)
    e_in, e_target, e_out = entities(source), entities(target), entities(prediction)
    new_wanted, new_found = e_target - e_in, e_out - e_in
    dr = rouge_l(" ".join(wanted), " ".join(added), stem) if wanted else NAN
    er = tuple(max((rouge_l(fact, a, stem) for a in added), default=0.0) for fact in evidence)
    ee = tuple(share(new_found, entities(fact) & new_wanted) for fact in evidence)
    kept_target = copied_sentences(source, target)
    if not kept_target or holds_whole(prediction, source):
        rse = 1.0
    else:
        rse = rouge_l(" ".join(kept_target), " ".join(copied_sentences(source, prediction)), stem)
    ese = share(e_out, e_in & e_target)
    return DocumentScores(dr, share(new_found, new_wanted), er, ee, rse, ese, tuple(wanted), tuple(added))


@dataclass
class Mean:
    """A mean over the defined values, with how many were defined and how many excluded (undefined)."""

    value: float
    n: int
    excluded: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "n": self.n, "excluded": self.excluded, **self.extra}


def defined_mean(values: Iterable[float], weights: Iterable[float] | None = None) -> Mean:
    """The (weighted) mean of the values that are not NaN; NaN when none is."""
    pairs = list(zip(values, weights if weights is not None else _ones(), strict=False))
    kept = [(v, w) for v, w in pairs if not math.isnan(v)]
    total = sum(w for _, w in kept)
    value = sum(v * w for v, w in kept) / total if kept and total else NAN
    return Mean(value, len(kept), len(pairs) - len(kept))


def _ones() -> Iterable[float]:
    while True:
        yield 1.0


def summarise(scores: Sequence[DocumentScores], facts: Sequence[int]) -> dict[str, dict[str, Any]]:
    """The dataset's metrics: document means for DR, DE, RSE, ESE; fact means (every fact of every document
    counts once) for ER and EE; WAT, DE weighted by ``facts`` (each document's number of evidence facts);
    ``DE_nonzero``, the reference's DE mean (zeros left out, which inflates it). Each with n and excluded."""
    de = [s.de for s in scores]
    summary = {
        "DR": defined_mean(s.dr for s in scores),
        "DE": defined_mean(de),
        "WAT": defined_mean(de, facts),
        "ER": defined_mean(v for s in scores for v in s.er),
        "EE": defined_mean(v for s in scores for v in s.ee),
        "RSE": defined_mean(s.rse for s in scores),
        "ESE": defined_mean(s.ese for s in scores),
    }
    nonzero = defined_mean(v if v != 0 else NAN for v in de)
    nonzero.extra["zeros_left_out"] = sum(1 for v in de if v == 0)
    nonzero.excluded -= nonzero.extra["zeros_left_out"]
    summary["DE_nonzero"] = nonzero
    return {name: mean.to_dict() for name, mean in summary.items()}
