"""The small interface evaluation sees a model through: score continuations, generate, decode.

Every task (text, vision-language, contextual, document) observes a model only through :class:`LanguageModel`, so
one evaluator serves them all and a metric never depends on how the model was reached. Backends: a HuggingFace
causal LM (:class:`amend.lm.CausalLM`); a contextual wrapper that puts facts from a context memory before each
prompt (:class:`amend.lm.ContextualLM`); a vision-language backend takes :class:`VisualPrompt` prompts and
batches carrying images (``amend.tokens.Batch.pixel_values``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Scored:
    """A teacher-forced continuation: its tokens, their log-probabilities and the argmax at each position."""

    answer_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    argmax: tuple[int, ...]

    @property
    def nll(self) -> float:
        """Mean per-token negative log-likelihood."""
        return -sum(self.logprobs) / len(self.logprobs)


@dataclass(frozen=True)
class VisualPrompt:
    """A prompt about an image (a path, or an image object the backend's processor reads)."""

    text: str
    image: Path | Any


Prompt = str | VisualPrompt


def prompt_text(prompt: Prompt) -> str:
    return prompt.text if isinstance(prompt, VisualPrompt) else prompt


@runtime_checkable
class LanguageModel(Protocol):
    """What evaluation may ask of a model."""

    def score(self, pairs: Sequence[tuple[Prompt, str]]) -> list[Scored]:
        """Teacher-forced scores of each answer after its prompt, in the caller's order."""
        ...

    def generate(
        self, prompts: Sequence[Prompt], max_new_tokens: Sequence[int], *, top_k: int | None = None, seed: int = 0
    ) -> list[str]:
        """Continuations, each at most its own number of new tokens; greedy unless ``top_k`` (reproducible by
        ``seed``)."""
        ...

    def decode(self, ids: Sequence[int]) -> str:
        """Text of token ids (reports show the argmax tokens)."""
        ...
