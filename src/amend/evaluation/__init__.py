"""Honest evaluation: three protocols kept apart, per-record then dataset means, single, batch and sequential modes.

Evaluation observes a model only through :class:`amend.lm.LanguageModel`; what it measures for each request is an
evaluation task (:mod:`amend.evaluation.tasks`).
"""

from amend.evaluation.metrics import PROTOCOLS
from amend.evaluation.report import EvalResult
from amend.evaluation.runner import MODES, EvaluationSettings, evaluate

__all__ = ["MODES", "PROTOCOLS", "EvalResult", "EvaluationSettings", "evaluate"]
