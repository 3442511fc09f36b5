"""The language-model interface evaluation observes models through, and its backends."""

from typing import Any

from torch import nn

from amend.lm.base import LanguageModel, Prompt, Scored, VisualPrompt, prompt_text
from amend.lm.contextual import ContextualLM, all_facts, asked_prompt
from amend.lm.hf_causal import CausalLM
from amend.lm.vision import VisionLM
from amend.prompting import encoder_of


def language_model(model: nn.Module, tokenizer: Any, **options: Any) -> CausalLM:
    """The backend for ``model``: :class:`VisionLM` when ``tokenizer`` is a vision-language processor (or an
    encoder around one), :class:`CausalLM` for a text tokenizer."""
    if encoder_of(tokenizer) is not None:
        return VisionLM(model, tokenizer, **options)
    return CausalLM(model, tokenizer, **options)


def prompt_record(prompt: Prompt) -> str | dict[str, str]:
    """A prompt as a run's samples file writes it: the text, or the text and the image's path."""
    if isinstance(prompt, VisualPrompt):
        image = (
            prompt.image
            if isinstance(prompt.image, str)
            else str(getattr(prompt.image, "filename", "") or prompt.image)
        )
        return {"text": prompt.text, "image": image}
    return prompt


__all__ = [
    "CausalLM",
    "ContextualLM",
    "LanguageModel",
    "Prompt",
    "Scored",
    "VisionLM",
    "VisualPrompt",
    "all_facts",
    "asked_prompt",
    "language_model",
    "prompt_record",
    "prompt_text",
]
