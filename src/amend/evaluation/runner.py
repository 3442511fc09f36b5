"""``amend.evaluate``: edit in a mode, observe before and after, and report every metric per protocol.

Modes:
* ``single`` — each request is applied, evaluated and reverted before the next (the model is never left edited);
  requests that share a ``group`` (a MQuAKE case's chain of edits) are applied, evaluated and reverted together;
* ``batch`` — all requests are applied together, evaluated, then reverted;
* ``sequential`` — batches applied in order without restoring (see :mod:`amend.evaluation.sequential`); the main
  summary is the retention of all edits at the end, ``extra`` holds the immediate summary and the checkpoints.

Pre-edit observations are computed once, batched over every item, and reused: for locality agreement and for the
``pre_summary`` baseline. With ``generation`` settings, requests with generation prompts are also generated from
before and after their edit, and scored for fluency and consistency (single and batch modes).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch import nn
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from amend.editing import Editor, as_requests, method_config
from amend.editing.editor import StatisticsLike
from amend.errors import ConfigError
from amend.evaluation.generation import PROTOCOL as GENERATION
from amend.evaluation.generation import Generations, GenerationSettings, quality
from amend.evaluation.metrics import PROTOCOLS
from amend.evaluation.observe import AGREEMENTS, Observation, item_values, observe
from amend.evaluation.report import EvalResult, aggregate, named_values
from amend.evaluation.sequential import SequentialSettings, run_sequential
from amend.evaluation.tasks import LOCALITY, Item, items_by_request, task_for
from amend.fingerprint import fingerprint
from amend.lm import LanguageModel, language_model, prompt_record
from amend.methods import load_method
from amend.methods.config import MethodConfig
from amend.registry import TASKS
from amend.requests import EditRequest
from amend.stats import Corpus, StatsCache

MODES = ("single", "batch", "sequential")


@dataclass(frozen=True)
class EvaluationSettings:
    """How an evaluation runs (``amend evaluate`` builds this from its flags).

    Attributes:
        mode: ``single``, ``batch`` or ``sequential``.
        protocols: Among ``probability``, ``token_accuracy``, ``exact_match``; each reported on its own.
        task: The evaluation task (:data:`amend.registry.TASKS`); it decides which request kind is read. None: the
            task that reads the requests' kind.
        forward_batch_size: Prompts per forward pass when scoring and generating.
        progress: Show progress bars.
        sequential: Batch size, checkpoints, saving and resuming of the sequential mode.
        generation: Generate from the requests' generation prompts and report fluency (and consistency).
    """

    mode: str = "single"
    protocols: tuple[str, ...] = PROTOCOLS
    task: str | None = None
    forward_batch_size: int = 64
    progress: bool = True
    sequential: SequentialSettings = field(default_factory=SequentialSettings)
    generation: GenerationSettings | None = None

    def __post_init__(self) -> None:
        """Refuse a bad mode, protocol or task before any work (pre-edit observation is the slow part of a run)."""
        object.__setattr__(self, "protocols", tuple(self.protocols))
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, not {self.mode!r}")
        if self.generation is not None and self.mode == "sequential":
            raise ConfigError("fluency and consistency are measured in single and batch modes, not sequential")
        unknown = sorted(set(self.protocols) - set(PROTOCOLS))
        if unknown:
            raise ConfigError(f"unknown protocol(s) {unknown}; choose from {PROTOCOLS}")
        if self.forward_batch_size < 1:
            raise ConfigError("forward_batch_size must be positive")
        if self.task is not None:
            TASKS.target(self.task)


@dataclass(frozen=True)
class EditSetup:
    """What edits the model: a method, its resolved config, and where its statistics come from and go."""

    method: str | type
    config: MethodConfig
    cache_dir: str | Path | StatsCache | None = None
    corpus: Corpus | Sequence[str] | str | Path | None = None
    statistics: StatisticsLike = None

    def editor(self, model: nn.Module, tokenizer: PreTrainedTokenizerBase, progress: bool = False) -> Editor:
        return Editor(
            model,
            tokenizer,
            self.method,
            config=self.config,
            cache_dir=self.cache_dir,
            corpus=self.corpus,
            statistics=self.statistics,
            progress=progress,
        )


def evaluate(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    requests: Iterable[EditRequest | dict[str, Any]],
    method: str | type | None = "rome",
    *,
    settings: EvaluationSettings | None = None,
    config: MethodConfig | Mapping[str, Any] | None = None,
    cache_dir: str | Path | StatsCache | None = None,
    corpus: Corpus | Sequence[str] | str | Path | None = None,
    statistics: StatisticsLike = None,
    references: Mapping[str, Sequence[str]] | None = None,
    idf: Mapping[str, float] | None = None,
    **overrides: Any,
) -> EvalResult:
    """Evaluate ``method`` on ``requests``; ``method=None`` evaluates the unedited model only.

    Args:
        settings: Mode, protocols, task, batching, sequential and generation settings.
        config: The method's config (its dataclass), or a mapping of its fields (as :class:`amend.Editor`).
        cache_dir: Where statistics are cached.
        corpus: The statistics corpus, replacing the testbed's and the config's.
        statistics: Second moments by layer, used instead of computed ones (as :class:`amend.Editor`).
        references: Reference texts for consistency, by request id.
        idf: The IDF table of consistency's TF-IDF (default: fitted on the texts compared).
        **overrides: Fields of the method's config.
    """
    settings = settings or EvaluationSettings()
    requests = as_requests(list(requests))
    setup = None
    lm = language_model(model, tokenizer, batch_size=settings.forward_batch_size, progress=settings.progress)
    method_cls = None if method is None else load_method(method)
    scored = requests
    if method_cls is not None:
        method_settings = method_config(method_cls, model, config, **overrides)
        setup = EditSetup(method_cls, method_settings, cache_dir, corpus, statistics)
        lm = method_cls.observed(lm, model, method_settings)
        scored = method_cls.scored(requests, method_settings)  # without what the edit learns from
    measured = task_for(requests, settings.task)
    items = measured.items(scored)
    model_info = describe(model)
    protocols = settings.protocols
    before = observe(lm, items, protocols)
    texts_before = texts_after = None
    if settings.generation is not None:
        texts_before = Generations(settings.generation, requests)
        texts_after = Generations(settings.generation, requests)
        texts_before.run(lm, range(len(requests)))
    after, config_used, seconds, extra = before, {}, [0.0] * len(requests), {}
    if setup is not None and settings.mode == "sequential":
        after, config_used, seconds, extra = run_sequential(
            model, tokenizer, requests, items, before, lm, setup, settings
        )
    elif setup is not None:
        run = _single if settings.mode == "single" else _batch
        after, config_used, seconds = run(model, tokenizer, requests, items, lm, setup, settings, texts_after)
    elif texts_after is not None:
        texts_after.texts = texts_before.texts
    result = _result(
        "none" if method_cls is None else method_cls.name,
        settings.mode,
        list(protocols),
        config_used,
        model_info,
        requests,
        items,
        before,
        after,
        seconds,
        lm.decode,
    )
    result.extra.update(extra)
    measured.summarise(result.summary)
    _add_context_traces(result, lm)
    if texts_before is not None:
        _add_generation(result, requests, texts_before, texts_after, references, idf)
    return result


def _add_context_traces(result: EvalResult, lm: LanguageModel) -> None:
    """A contextual method's record of each query (SCR: candidates, verdicts, the prompt asked) as samples, and how
    many queries were answered in context, so a failure can be traced to its stage from the saved run. Queries that
    retrieved no fact (all those of the observation before any edit, whose store is empty) are counted apart: they
    cannot be answered in context."""
    traces = getattr(getattr(lm, "context", None), "traces", None)
    if not traces:
        return
    result.samples.extend({"context_trace": asdict(trace)} for trace in traces)
    with_facts = [trace for trace in traces if getattr(trace, "candidates", True)]
    result.extra["context"] = {
        "queries": len(traces),
        "queries_with_candidates": len(with_facts),
        "answered_in_context": sum(trace.prompt is not None for trace in traces),
    }


def _single(model, tokenizer, requests, items, lm, setup: EditSetup, settings: EvaluationSettings, texts=None):
    """Each request (or ``group``) edited, observed and reverted before the next: one editor, reset each time."""
    after: list[Observation | None] = [None] * len(items)
    by_request = items_by_request(items)
    seconds = [0.0] * len(requests)
    editor = setup.editor(model, tokenizer)
    groups = edit_groups(requests)
    for members in tqdm(groups, desc=f"{editor.method} single", disable=not settings.progress):
        start = time.perf_counter()
        editor.edit([requests[r] for r in members])
        for r in members:
            seconds[r] = (time.perf_counter() - start) / len(members)
        try:
            indices = [i for r in members for i in by_request.get(r, [])]
            seen = observe(lm, [items[i] for i in indices], settings.protocols)
            for index, observation in zip(indices, seen, strict=True):
                after[index] = observation
            if texts is not None:
                texts.run(lm, members)
        finally:
            editor.revert()
    return after, editor.config_record(), seconds


def edit_groups(requests: Sequence[EditRequest]) -> list[list[int]]:
    """Indices of the requests edited together in single mode: one per request, or all of one ``group``."""
    groups: dict[object, list[int]] = {}
    for r, request in enumerate(requests):
        group = getattr(request, "group", None)
        key = ("group", group) if group is not None else ("request", r)
        groups.setdefault(key, []).append(r)
    return list(groups.values())


def _batch(model, tokenizer, requests, items, lm, setup: EditSetup, settings: EvaluationSettings, texts=None):
    editor = setup.editor(model, tokenizer, progress=settings.progress)
    start = time.perf_counter()
    editor.edit(requests)
    elapsed = time.perf_counter() - start
    try:
        after = observe(lm, items, settings.protocols)
        if texts is not None:
            texts.run(lm, range(len(requests)))
    finally:
        editor.revert()
    return after, editor.config_record(), [elapsed / len(requests)] * len(requests)


def _result(method, mode, protocols, config, model_info, requests, items: list[Item], before, after, seconds, decode):
    post = [
        named_values(item_values(it, a, b, protocols), it.kind) for it, a, b in zip(items, after, before, strict=True)
    ]
    pre = [
        named_values({k: v for k, v in item_values(it, b, b, protocols).items() if k not in AGREEMENTS}, it.kind)
        for it, b in zip(items, before, strict=True)
    ]
    record_of = [item.request for item in items]
    records, summary = aggregate(post, record_of)
    _, pre_summary = aggregate(pre, record_of)
    for r, record in enumerate(records):
        record.update(id=requests[r].record_id, edit_seconds=seconds[r])
    samples = [
        {
            "record": requests[it.request].record_id,
            "metric": it.metric,
            "kind": it.kind,
            "prompt": prompt_record(it.prompt),
            "answer": it.answer,
            "foil": it.foil,
            "before": b.to_dict(decode),
            "after": a.to_dict(decode),
            "values": v,
        }
        for it, b, a, v in zip(items, before, after, post, strict=True)
    ]
    extra = {
        "edit_seconds_mean": sum(seconds) / len(seconds),
        "locality_probe_kinds": sorted({it.kind for it in items if it.metric == LOCALITY}),
    }
    return EvalResult(method, mode, protocols, config, model_info, summary, pre_summary, records, samples, extra)


def _add_generation(result: EvalResult, requests, before: Generations, after: Generations, references, idf) -> None:
    """Fluency and consistency before and after the edits: per record, in the summaries, and the texts as samples."""
    post, pre = quality(after.texts, requests, references, idf), quality(before.texts, requests, references, idf)
    for r, values in post:
        result.records[r].update(values)
    result.summary.update(aggregate([v for _, v in post], [r for r, _ in post])[1])
    result.pre_summary.update(aggregate([v for _, v in pre], [r for r, _ in pre])[1])
    result.protocols.append(GENERATION)
    result.extra["generation"] = after.settings.to_dict()
    for r in sorted(after.texts):
        for prompt, old, new in zip(requests[r].generation, before.texts[r], after.texts[r], strict=True):
            result.samples.append(
                {
                    "record": requests[r].record_id,
                    "metric": "generation",
                    "kind": "",
                    "prompt": prompt,
                    "before": {"generation": old},
                    "after": {"generation": new},
                }
            )


def describe(model: nn.Module) -> dict[str, Any]:
    """The model facts a report records."""
    parameter = next(model.parameters())
    return {
        "name": getattr(model.config, "_name_or_path", "") or type(model).__name__,
        "model_type": model.config.model_type,
        "fingerprint": fingerprint(model),
        "dtype": str(parameter.dtype).removeprefix("torch."),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
