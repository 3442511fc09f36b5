"""Teacher-forced token accuracy (EasyEdit's rewrite/rephrase/portability acc) and agreement (its locality)."""

from __future__ import annotations

from collections.abc import Sequence


def token_accuracy(argmax: Sequence[int], answer_ids: Sequence[int]) -> float:
    """Share of answer positions whose argmax is the answer token, with the gold prefix fed (teacher forcing)."""
    if len(argmax) != len(answer_ids) or not answer_ids:
        raise ValueError(f"{len(argmax)} predictions for {len(answer_ids)} answer tokens")
    return sum(int(p == t) for p, t in zip(argmax, answer_ids, strict=True)) / len(answer_ids)


def token_agreement(argmax_after: Sequence[int], argmax_before: Sequence[int]) -> float:
    """Share of answer positions whose argmax is unchanged by the edit (locality as agreement, not accuracy)."""
    return token_accuracy(argmax_after, argmax_before)
