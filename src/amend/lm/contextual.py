"""A language model that reads a context memory: the view evaluation has of a contextually edited model.

Contextual methods (SCR, IKE) leave the network as it is and store facts in a context memory
(:class:`amend.changes.ContextFacts`). :class:`ContextualLM` wraps any :class:`LanguageModel` and, at every query,
asks its ``context`` function which prompt to ask instead (facts before it, a template around it), or None to ask
it as it is: a method's retrieval and selection policy goes there. With an empty memory it is exactly the model it
wraps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from amend.changes.attachments import attached
from amend.lm.base import LanguageModel, Prompt, Scored, VisualPrompt, prompt_text

Context = Callable[[str], str | None]  # prompt text -> the prompt to ask instead, or None to ask it as it is


class ContextualLM:
    """``base`` asked ``context(prompt)`` instead of every prompt it rewrites (scores and generations alike)."""

    def __init__(self, base: LanguageModel, context: Context):
        self.base = base
        self.context = context

    def score(self, pairs: Sequence[tuple[Prompt, str]]) -> list[Scored]:
        return self.base.score([(self.asked(prompt), answer) for prompt, answer in pairs])

    def generate(
        self, prompts: Sequence[Prompt], max_new_tokens: Sequence[int], *, top_k: int | None = None, seed: int = 0
    ) -> list[str]:
        contextual = [self.asked(prompt) for prompt in prompts]
        return self.base.generate(contextual, max_new_tokens, top_k=top_k, seed=seed)

    def decode(self, ids: Sequence[int]) -> str:
        return self.base.decode(ids)

    def asked(self, prompt: Prompt) -> Prompt:
        """The prompt the wrapped model is asked instead of ``prompt``."""
        rewritten = self.context(prompt_text(prompt))
        if rewritten is None:
            return prompt
        if isinstance(prompt, VisualPrompt):
            return VisualPrompt(rewritten, prompt.image)
        return rewritten


def asked_prompt(lm: LanguageModel, prompt: Prompt) -> Prompt:
    """What ``lm`` asks its network for ``prompt``: the rewritten prompt of a :class:`ContextualLM`, else itself."""
    return lm.asked(prompt) if isinstance(lm, ContextualLM) else prompt


def all_facts(model: nn.Module, memory: str = "default", separator: str = " ") -> Context:
    """The simplest policy: every fact of the memory, in the order stored, before every prompt (read at each
    query, so facts added or reverted later are seen)."""

    def context(prompt: str) -> str | None:
        facts = attached(model).facts(memory)
        return separator.join(facts) + separator + prompt if facts else None

    return context
