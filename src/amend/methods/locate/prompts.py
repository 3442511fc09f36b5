"""Token rows of (request × context template) prompts, with the index of the fact token in each row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from amend.hooks.positions import token_index
from amend.requests import EditRequest, fill
from amend.tokens import encode


@dataclass(frozen=True)
class PromptRow:
    """One prompt: its tokens, the request it belongs to and where the fact token is."""

    request: int
    ids: list[int]
    lookup: int


def template_rows(
    tokenizer: PreTrainedTokenizerBase,
    requests: Sequence[EditRequest],
    templates: Sequence[str],
    rule: str,
) -> list[PromptRow]:
    """Rows for every request under every template, request-major (request 0's templates first)."""
    rows = []
    for i, request in enumerate(requests):
        for template in templates:
            slot = fill(template, request.prompt)  # still holds the subject's '{}'
            text = fill(slot, request.subject)
            rows.append(PromptRow(i, encode(tokenizer, text), token_index(tokenizer, slot, request.subject, rule)))
    return rows
