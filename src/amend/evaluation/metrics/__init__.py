"""Metric functions, one file per protocol. Each is pure: numbers or strings in, a number out.

The three protocols answer different questions and are never averaged into one number:

* ``probability`` — does the model prefer the answer to its foil (mean per-token NLL, CounterFact ES/PS/NS);
* ``token_accuracy`` — teacher-forced share of answer tokens that are the argmax (EasyEdit);
* ``exact_match`` — greedy generation, normalised, equals the answer.

Harmonic means (the multimodal task's summary) combine metrics of one protocol only (``harmonic_mean``).

Free generation is judged apart from the three (protocol ``generation``): ``fluency`` (ROME's weighted n-gram
entropy) and ``consistency`` (TF-IDF cosine with reference texts).
"""

from amend.evaluation.metrics.consistency import fitted_idf, tfidf_cosine
from amend.evaluation.metrics.exact_match import exact_match, first_clause, normalize
from amend.evaluation.metrics.fluency import fluency, mean_fluency, ngram_entropy
from amend.evaluation.metrics.probability import mean_token_probability, prefers
from amend.evaluation.metrics.summary import harmonic_mean
from amend.evaluation.metrics.token_accuracy import token_accuracy, token_agreement, top_k_agreement

PROTOCOLS = ("probability", "token_accuracy", "exact_match")

__all__ = [
    "PROTOCOLS",
    "exact_match",
    "first_clause",
    "fitted_idf",
    "fluency",
    "harmonic_mean",
    "mean_fluency",
    "mean_token_probability",
    "ngram_entropy",
    "normalize",
    "prefers",
    "tfidf_cosine",
    "token_accuracy",
    "token_agreement",
    "top_k_agreement",
]
