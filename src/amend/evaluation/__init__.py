"""Honest evaluation: three protocols kept apart, per-record then dataset means, single and batch modes."""

from amend.evaluation.metrics import PROTOCOLS
from amend.evaluation.report import EvalResult
from amend.evaluation.runner import MODES, evaluate
from amend.evaluation.scoring import Scored, Scorer

__all__ = ["MODES", "PROTOCOLS", "EvalResult", "Scored", "Scorer", "evaluate"]
