"""lm-evaluation-harness on an edited model in memory: any harness task by name, a folder of task YAMLs, or a task
dict, scored through amend's :class:`~amend.lm.LanguageModel` interface.

The bridge (:class:`HarnessLM`) is an ``lm_eval`` model whose ``loglikelihood`` is amend's teacher-forced score of
the continuation after the context and whose ``generate_until`` is amend's greedy generation cut at the first stop
string. Going through amend's interface rather than lm-eval's own HuggingFace wrapper is what lets one harness task
measure a parametric edit, an attached codebook and a contextual method (SCR's retrieval runs before every context)
alike. Departures, each stated:

* a continuation must start with a space or follow a context that ends with one (the space is then moved onto the
  continuation, as lm-eval's own wrapper does): amend scores an answer as a word after its prompt, so a task with an
  empty ``target_delimiter`` is refused rather than scored on other tokens than it asks for;
* generation is greedy: a task's sampling settings (``do_sample``, ``temperature``) are reported and ignored;
* perplexity tasks (``loglikelihood_rolling``) are not supported.

Nothing is downloaded: a task whose data is not on the machine fails in lm-eval, which names it. Local data goes
through a YAML with ``dataset_path: json`` and ``dataset_kwargs: {data_files: {test: FILE}}`` (docs/abilities.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from amend.abilities.base import Ability, AbilityResult
from amend.errors import ConfigError
from amend.lm import LanguageModel

try:
    from lm_eval import simple_evaluate
    from lm_eval.api.model import LM
    from lm_eval.tasks import TaskManager
except ImportError as err:  # the optional extra
    raise ImportError("lm-evaluation-harness tasks need the harness extra: pip install 'amend[harness]'") from err


class HarnessLM(LM):
    """An amend :class:`~amend.lm.LanguageModel` as an lm-eval model (see the module docstring)."""

    def __init__(self, lm: LanguageModel, batch_size: int = 64):
        super().__init__()
        self.lm, self.batch_size = lm, batch_size
        self.ignored_sampling: set[str] = set()

    def loglikelihood(self, requests) -> list[tuple[float, bool]]:
        pairs = [_scored_pair(request) for request in requests]
        out = []
        for start in range(0, len(pairs), self.batch_size):
            for scored in self.lm.score(pairs[start : start + self.batch_size]):
                out.append((float(sum(scored.logprobs)), tuple(scored.argmax) == tuple(scored.answer_ids)))
        return out

    def loglikelihood_rolling(self, requests) -> list[float]:
        raise ConfigError("perplexity tasks (loglikelihood_rolling) are not supported by amend's harness bridge")

    def generate_until(self, requests) -> list[str]:
        out = []
        for request in requests:
            context, settings = request.args
            settings = dict(settings or {})
            stops = settings.pop("until", None) or []
            stops = [stops] if isinstance(stops, str) else list(stops)
            budget = int(settings.pop("max_gen_toks", 256))
            self.ignored_sampling |= {k for k, v in settings.items() if k in ("do_sample", "temperature") and v}
            text = self.lm.generate([context], [budget])[0]
            out.append(_cut(text, stops))
        return out


def _scored_pair(request) -> tuple[str, str]:
    context, continuation = request.args
    if not continuation.startswith(" ") and context.endswith(" "):
        context, continuation = context[:-1], " " + continuation
    if not continuation.startswith(" "):
        raise ConfigError(
            f"harness task {getattr(request, 'task_name', '?')!r}, document {getattr(request, 'doc_id', '?')}: the "
            f"continuation {continuation[:30]!r} does not follow a space; amend scores answers as words after their "
            "prompt (set the task's target_delimiter to ' ')"
        )
    if not context.strip():
        raise ConfigError(f"harness task {getattr(request, 'task_name', '?')!r}: an empty context cannot be scored")
    return context, continuation


def _cut(text: str, stops: list[str]) -> str:
    """The generation up to the first stop string."""
    cuts = [text.find(stop) for stop in stops if stop and stop in text]
    return text[: min(cuts)] if cuts else text


class HarnessAbility(Ability):
    """One lm-eval task; the score is the task's first metric (``acc`` for multiple choice, ``exact_match`` for
    generation), every other metric beside it.

    Args:
        task: A task name (found in lm-eval's registry or in ``include_path``) or a task config dict.
        include_path: A folder of task YAMLs (local data).
        limit: Documents evaluated per task (None: all).
        num_fewshot: Overrides the task's number of examples.
    """

    def __init__(
        self,
        task: str | Mapping[str, Any],
        include_path: str | Path | None = None,
        limit: int | None = None,
        num_fewshot: int | None = None,
        batch_size: int = 64,
    ):
        self.task = dict(task) if isinstance(task, Mapping) else task
        task_name = self.task["task"] if isinstance(self.task, dict) else self.task
        self.name, self.metric = f"harness/{task_name}", "harness"
        self.include_path, self.limit, self.num_fewshot, self.batch_size = include_path, limit, num_fewshot, batch_size

    def evaluate(self, lm: LanguageModel) -> AbilityResult:
        bridge = HarnessLM(lm, self.batch_size)
        manager = TaskManager(include_path=str(self.include_path) if self.include_path else None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = simple_evaluate(
                model=bridge,
                tasks=[self.task],
                task_manager=manager,
                limit=self.limit,
                num_fewshot=self.num_fewshot,
                bootstrap_iters=0,
                log_samples=True,
            )
        if found is None:
            raise ConfigError(f"lm-eval returned no results for {self.name}")
        task_name = self.name.removeprefix("harness/")
        metrics = {
            key.split(",")[0]: float(value)
            for key, value in found["results"][task_name].items()
            if "," in key and "stderr" not in key and isinstance(value, int | float)
        }
        if not metrics:
            raise ConfigError(f"harness task {task_name!r} reported no metric")
        headline = next(iter(metrics))
        samples = [_sample(s) for s in found.get("samples", {}).get(task_name, [])]
        details = {k: v for k, v in metrics.items() if k != headline}
        if bridge.ignored_sampling:
            details["sampling_ignored"] = 1.0
        return AbilityResult(self.name, headline, metrics[headline], len(samples), details, samples)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "task": self.task,
            "include_path": str(self.include_path) if self.include_path else None,
            "limit": self.limit,
            "num_fewshot": self.num_fewshot,
        }


def _sample(sample: Mapping[str, Any]) -> dict[str, Any]:
    """A harness sample as amend's samples file keeps it: the document id, target, response and metric values."""
    out = {"doc_id": sample.get("doc_id"), "target": str(sample.get("target"))}
    response = sample.get("filtered_resps")
    out["response"] = response if isinstance(response, str | int | float) else str(response)
    for key in ("acc", "acc_norm", "exact_match"):
        if key in sample:
            out[key] = sample[key]
    return out
