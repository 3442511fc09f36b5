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


def top_k_agreement(top_after: Sequence[Sequence[int]], top_before: Sequence[Sequence[int]]) -> float:
    """MMEdit's and BalancEdit's image locality: the share of (answer position, rank) slots holding the same token
    id before and after the edit, over the k most likely tokens at each position (order-sensitive: a token that
    moves from rank 1 to rank 2 counts as a change at both ranks)."""
    if len(top_after) != len(top_before) or not top_after:
        raise ValueError(f"{len(top_after)} positions after the edit for {len(top_before)} before")
    slots = same = 0
    for after, before in zip(top_after, top_before, strict=True):
        if len(after) != len(before):
            raise ValueError(f"top {len(after)} after the edit against top {len(before)} before")
        slots += len(after)
        same += sum(a == b for a, b in zip(after, before, strict=True))
    return same / slots
