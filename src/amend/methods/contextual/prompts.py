"""Prompts for an instruction-tuned model: a user turn in the tokenizer's chat template, when it has one."""

from __future__ import annotations

from typing import Any


def as_chat(tokenizer: Any, text: str) -> str:
    """``text`` as a user message followed by the assistant's turn, in the tokenizer's chat template; ``text``
    itself when the tokenizer has no template (the world model, base models)."""
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        return text
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
    )
