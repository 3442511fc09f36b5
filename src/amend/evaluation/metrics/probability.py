"""Probability protocol: compare mean per-token negative log-likelihoods (CounterFact's ES, PS and NS)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def mean_nll(token_logprobs: Sequence[float]) -> float:
    """Mean per-token NLL of a continuation from its teacher-forced token log-probabilities."""
    if not token_logprobs:
        raise ValueError("a continuation has at least one token")
    return -sum(token_logprobs) / len(token_logprobs)


def mean_token_probability(nll: float) -> float:
    """p̄ = exp(−NLL), the geometric mean of the token probabilities."""
    return math.exp(-nll)


def prefers(nll_answer: float, nll_foil: float) -> bool:
    """Whether the model prefers the answer to the foil: NLL(answer) < NLL(foil), i.e. p̄(answer) > p̄(foil)."""
    return nll_answer < nll_foil


def conflict_probability(nll_old: float) -> float:
    """CoME's conflict measure, probability protocol: p̄ of the *old* object after the edit, on the edit prompt or a
    rephrase (lower is better: the outdated fact no longer competes with the new one)."""
    return mean_token_probability(nll_old)
