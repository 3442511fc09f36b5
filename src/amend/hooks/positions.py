"""Which token holds the subject: the lookup every locate-then-edit method starts from.

The rule works on character offsets of the full prompt, so it is correct whatever the tokenizer adds or merges:
a BOS token in front (Llama-style), a leading-space token such as GPT-2's ``Ġ`` words, or a prefix template. A
slow tokenizer without offsets falls back to the joint-encoding rule (len(encode(prefix + subject)) − 1), the
variant of the original code that is valid for BOS-adding tokenizers.
"""

from __future__ import annotations

from enum import Enum

from transformers import PreTrainedTokenizerBase

from amend.requests import PLACEHOLDER, fill
from amend.tokens import encode


class TokenRule(str, Enum):
    SUBJECT_FIRST = "subject_first"
    SUBJECT_LAST = "subject_last"
    LAST = "last"  # the prompt's final token


def subject_span(tokenizer: PreTrainedTokenizerBase, template: str, subject: str) -> tuple[int, int]:
    """(first, last) token index of ``subject`` in the tokens of ``fill(template, subject)``.

    Indices count from the left of the unpadded token sequence, special tokens included.
    """
    if template.count(PLACEHOLDER) != 1:
        raise ValueError(f"template {template!r} must contain exactly one '{{}}'")
    start = template.index(PLACEHOLDER)
    end = start + len(subject)
    text = fill(template, subject)
    if getattr(tokenizer, "is_fast", False):
        offsets = tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
        inside = [i for i, (s, e) in enumerate(offsets) if e > s and s < end and e > start]
        if not inside:
            raise ValueError(f"no token covers subject {subject!r} in {text!r}")
        return inside[0], inside[-1]
    prefix = template[:start]
    last = len(encode(tokenizer, prefix + subject)) - 1
    first = len(encode(tokenizer, prefix.rstrip()))  # encode("") is [] or [BOS]
    return first, last


def token_index(tokenizer: PreTrainedTokenizerBase, template: str, subject: str, rule: TokenRule | str) -> int:
    """The token index ``rule`` picks in ``fill(template, subject)``."""
    rule = TokenRule(rule)
    if rule is TokenRule.LAST:
        return len(encode(tokenizer, fill(template, subject))) - 1
    first, last = subject_span(tokenizer, template, subject)
    return first if rule is TokenRule.SUBJECT_FIRST else last
