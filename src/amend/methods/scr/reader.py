"""SCR's reading of a query: retrieve candidates, let the model judge each, answer with the confirmed ones.

Every query leaves a :class:`QueryTrace`, so a wrong answer can be traced to its stage: the fact was not retrieved
(retrieval), retrieved but not confirmed or an unrelated one confirmed (judgement), or confirmed and still not
used (reading).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from amend.knowledge import Hit
from amend.lm.base import LanguageModel
from amend.methods.contextual import MemoryIndex, as_chat
from amend.methods.scr.config import ScrConfig


@dataclass(frozen=True)
class QueryTrace:
    """What SCR did for one query.

    Attributes:
        query: The prompt asked.
        candidates: The retrieved facts, best first, with their retrieval scores.
        replies: The model's answer to the relevance question of each candidate (empty without a judge).
        confirmed: Whether each candidate went into the answer prompt.
        prompt: The prompt the model answered (None: the query itself, no fact being confirmed).
    """

    query: str
    candidates: tuple[Hit, ...]
    replies: tuple[str, ...]
    confirmed: tuple[bool, ...]
    prompt: str | None


def verdict(reply: str, yes: str) -> bool:
    """Whether a judge's reply confirms: its first word is ``yes`` (any case; punctuation and spaces ignored)."""
    words = re.findall(r"\w+", reply)
    return bool(words) and words[0].lower() == yes.lower()


def judge_prompt(config: ScrConfig, fact: str, question: str, tokenizer: Any = None) -> str:
    text = config.judge_template.format(fact=fact, question=question)
    return as_chat(tokenizer, text) if config.judge_chat else text


def answer_prompt(config: ScrConfig, facts: Sequence[str], question: str) -> str:
    lines = config.fact_separator.join(config.fact_line.format(fact=fact) for fact in facts)
    return config.answer_template.format(facts=lines, question=question)


class SelectiveReader:
    """The context function SCR gives :class:`amend.lm.ContextualLM`: a query to the prompt the model answers.

    Answers are cached per query while the memory stays as it is (a prompt is scored with several targets).
    ``traces`` holds one :class:`QueryTrace` per query read, in order.
    """

    def __init__(self, lm: LanguageModel, index: MemoryIndex, config: ScrConfig, tokenizer: Any = None):
        self.lm, self.index, self.config, self.tokenizer = lm, index, config, tokenizer
        self.traces: list[QueryTrace] = []
        self._cache: dict[str, str | None] = {}
        self._version = -1

    def __call__(self, query: str) -> str | None:
        self.index.sync()
        if self.index.version != self._version:
            self._cache, self._version = {}, self.index.version
        if query not in self._cache:
            self._cache[query] = self.read(query)
        return self._cache[query]

    def read(self, query: str) -> str | None:
        config = self.config
        candidates = [
            hit
            for hit in self.index.store.search(query, config.top_k, config.retrieval)
            if hit.score >= config.min_score
        ]
        replies: list[str] = []
        if config.judge and candidates:
            prompts = [judge_prompt(config, hit.text, query, self.tokenizer) for hit in candidates]
            replies = self.lm.generate(prompts, [config.judge_tokens] * len(prompts))
            confirmed = [verdict(reply, config.judge_yes) for reply in replies]
        else:
            confirmed = [True] * len(candidates)
        facts = [hit.text for hit, keep in zip(candidates, confirmed, strict=True) if keep]
        prompt = answer_prompt(config, facts, query) if facts else None
        self.traces.append(QueryTrace(query, tuple(candidates), tuple(replies), tuple(confirmed), prompt))
        return prompt
