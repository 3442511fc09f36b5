"""SCR's configuration. SCR has no public code: the prompts and defaults are amend's choice (spec
memory-incontext-eval.md §4), every one configurable."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from amend.errors import ConfigError
from amend.methods.config import option
from amend.methods.contextual.base import ContextualConfig

JUDGE_TEMPLATE = "Fact: {fact}\nQuestion: {question}\nIs the fact relevant to answering the question? Answer yes or no."
ANSWER_TEMPLATE = "Use the following facts if relevant.\nFacts:\n{facts}\nQuestion: {question}\nAnswer:"


@dataclasses.dataclass(frozen=True)
class ScrConfig(ContextualConfig):
    """SCR (He, Song, Sun; arXiv 2503.05212): an edit stores the fact as a sentence; each query retrieves the
    ``top_k`` nearest facts, the model judges each (yes / no, greedy), and the confirmed facts go into the answer
    prompt; with none confirmed the query is asked as it is, so an unrelated query is answered exactly as by the
    unedited model."""

    method: ClassVar[str] = "scr"
    PATH_FIELDS: ClassVar[tuple[str, ...]] = ("store",)
    TEMPLATES: ClassVar[dict[str, tuple[str, ...]]] = {
        **ContextualConfig.TEMPLATES,
        "judge_template": ("{fact}", "{question}"),
        "answer_template": ("{facts}", "{question}"),
        "fact_line": ("{fact}",),
    }

    store: str = option(
        "", "Where the facts are indexed: '' in memory, a SQLite file, or a postgresql:// URL (pgvector)."
    )
    top_k: int = option(5, "Candidates retrieved per query.")
    min_score: float = option(-1.0, "Candidates scoring below are dropped before judging (-1 keeps every one).")
    judge: bool = option(True, "Ask the model to confirm each candidate (False: every candidate is used).")
    judge_template: str = option(JUDGE_TEMPLATE, "The relevance question ({fact}, {question}).")
    judge_chat: bool = option(True, "Put the relevance question in the chat template when the tokenizer has one.")
    judge_yes: str = option("yes", "The answer word that confirms a fact (compared with the first word, any case).")
    judge_tokens: int = option(3, "Tokens generated for a verdict.")
    answer_template: str = option(ANSWER_TEMPLATE, "The prompt with confirmed facts ({facts}, {question}).")
    fact_line: str = option("- {fact}", "How one confirmed fact appears in {facts}.")
    fact_separator: str = option("\n", "Between the confirmed facts in {facts}.")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.top_k < 1 or self.judge_tokens < 1:
            raise ConfigError("top_k and judge_tokens must be at least 1")
