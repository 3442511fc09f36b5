"""Requests that cannot work, refused before any weight is touched, naming the record and the field.

A request can be well-formed and still impossible for one model: a prompt longer than its context (the forward
pass fails deep inside with "index out of range"), a subject its tokenizer only knows as unknown tokens (the edit
would then rewrite every unknown name at once), or a batch that asks for two different objects for the same prompt
and subject (the least-squares solve would average them). These depend on the model and the batch, so they are
checked here, when the editor sees both, rather than when a request is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from transformers import PreTrainedTokenizerBase

from amend.errors import RecordError
from amend.requests import EditRequest
from amend.tokens import encode, target_ids


def check_requests(requests: Sequence[Any], tokenizer: PreTrainedTokenizerBase, context_length: int) -> None:
    """Refuse the first text request (or pair of requests) that cannot be edited or evaluated on this model."""
    seen: dict[tuple[str, str], EditRequest] = {}
    for request in requests:
        if not isinstance(request, EditRequest):
            continue
        _check_lengths(request, tokenizer, context_length)
        _check_subject_is_known(request, tokenizer)
        key = (request.prompt, request.subject)
        earlier = seen.setdefault(key, request)
        if earlier is not request and earlier.target_new.strip() != request.target_new.strip():
            raise RecordError(
                request.record_id,
                "target_new",
                f"{request.target_new!r} conflicts with record {earlier.record_id!r} in the same batch, which asks "
                f"{earlier.target_new!r} for the same subject and prompt; edit them in different batches",
            )


def _check_lengths(request: EditRequest, tokenizer: PreTrainedTokenizerBase, context_length: int) -> None:
    prompts = [("prompt", request.text, request.target_new)]
    prompts += [(f"rephrase[{i}].prompt", r.prompt, request.target_new) for i, r in enumerate(request.rephrase)]
    prompts += [(f"locality[{i}].prompt", p.prompt, p.answer) for i, p in enumerate(request.locality)]
    prompts += [(f"portability[{i}].prompt", p.prompt, p.answer) for i, p in enumerate(request.portability)]
    for field, prompt, answer in prompts:
        tokens = sum(len(part) for part in target_ids(tokenizer, prompt, answer))
        if tokens > context_length:
            raise RecordError(
                request.record_id,
                field,
                f"is {tokens} tokens with its answer, longer than the model's context of {context_length}",
            )


def _check_subject_is_known(request: EditRequest, tokenizer: PreTrainedTokenizerBase) -> None:
    unknown = tokenizer.unk_token_id
    if unknown is None:  # byte-level tokenizers know every string
        return
    ids = [i for i in encode(tokenizer, " " + request.subject) if i not in set(tokenizer.all_special_ids) - {unknown}]
    if ids and all(i == unknown for i in ids):
        raise RecordError(
            request.record_id,
            "subject",
            f"{request.subject!r} is only unknown tokens to this tokenizer: its key would be every unknown name's",
        )
