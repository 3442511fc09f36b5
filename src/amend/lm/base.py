"""The small interface evaluation sees a model through: score continuations, generate, decode.

Every task (text, vision-language, contextual, document) observes a model only through :class:`LanguageModel`, so
one evaluator serves them all and a metric never depends on how the model was reached. Backends: a HuggingFace
causal LM (:class:`amend.lm.CausalLM`); a contextual wrapper that puts facts from a context memory before each
prompt (:class:`amend.lm.ContextualLM`); a vision-language backend takes :class:`VisualPrompt` prompts and
batches carrying each row's image inputs (:class:`amend.lm.VisionLM`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from amend.prompting import Prompt, VisualPrompt, prompt_text

TOP_K = 10


@dataclass(frozen=True)
class Scored:
    """A teacher-forced continuation: its tokens, their log-probabilities, the argmax at each position and the
    :data:`TOP_K` most likely tokens there, best first (MMEdit's locality compares them before and after)."""

    answer_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    argmax: tuple[int, ...]
    top: tuple[tuple[int, ...], ...] = ()

    @property
    def nll(self) -> float:
        """Mean per-token negative log-likelihood."""
        return -sum(self.logprobs) / len(self.logprobs)


__all__ = ["TOP_K", "LanguageModel", "Prompt", "Scored", "VisualPrompt", "prompt_text"]


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
