"""What an ability is: a fixed set of items, a documented metric, and one number a model gets on it.

An ability sees the model only through :class:`~amend.lm.LanguageModel` (score, generate), as the edit evaluator
does, so the same suite measures a parametric edit, an attached codebook and a contextual method alike. Items are
built once, before any edit, from a seed: every checkpoint of a run asks exactly the same questions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from amend.lm import LanguageModel


@dataclass(frozen=True)
class AbilityResult:
    """One ability measured once.

    Attributes:
        name: The ability (``recall``, ``arithmetic``, ``harness/<task>`` …).
        metric: What ``score`` is (``exact_match``, ``fluency`` …), so two numbers of different kinds are never mixed.
        score: The headline number, higher is better.
        n: Items it was measured on.
        details: Other numbers of the same measurement (a muting rate, token accuracy, a harness task's metrics).
        samples: One record per item (prompt, answer, what the model produced, its value), for the samples file.
    """

    name: str
    metric: str
    score: float
    n: int
    details: dict[str, float] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The result without its samples (what the results file keeps per checkpoint)."""
        return {"metric": self.metric, "score": self.score, "n": self.n, **self.details}


class Ability(ABC):
    """A general ability of a model, measured on items fixed when the ability is built."""

    name: str
    metric: str

    @abstractmethod
    def evaluate(self, lm: LanguageModel) -> AbilityResult:
        """Measure ``lm`` on the items."""

    def describe(self) -> dict[str, Any]:
        """What the results file records about the ability (enough to tell two suites apart)."""
        return {"name": self.name, "metric": self.metric}
