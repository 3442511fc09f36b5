"""Which requests the unedited model knows: the filter papers apply before measuring edits on a real model.

A request is *known* when the model prefers its true object to its new one on the edit prompt, by the probability
protocol (mean token NLL, :func:`amend.evaluation.metrics.probability.prefers`): the same comparison as CounterFact's
efficacy, reversed. On a record the model does not know, an edit that "succeeds" may only have moved a guess.
"""

from __future__ import annotations

from collections.abc import Sequence

from amend.errors import ConfigError
from amend.evaluation.metrics.probability import prefers
from amend.lm import LanguageModel
from amend.requests import EditRequest


def known_mask(lm: LanguageModel, requests: Sequence[EditRequest]) -> list[bool]:
    """For each request: does ``lm`` prefer ``target_true`` to ``target_new`` on the edit prompt?"""
    missing = [request.record_id for request in requests if not request.target_true]
    if missing:
        raise ConfigError(f"request(s) {missing[:5]} have no target_true, so what the model knows cannot be told")
    pairs = []
    for request in requests:
        prompt = request.text
        pairs += [(prompt, request.target_true), (prompt, request.target_new)]
    scores = lm.score(pairs)
    return [prefers(scores[2 * i].nll, scores[2 * i + 1].nll) for i in range(len(requests))]


def known_requests(lm: LanguageModel, requests: Sequence[EditRequest]) -> list[EditRequest]:
    """The requests ``lm`` knows, in their order."""
    return [request for request, known in zip(requests, known_mask(lm, requests), strict=True) if known]
