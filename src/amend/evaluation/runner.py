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
from typing import Any

from torch import nn
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from amend.editing import as_requests, edit
from amend.errors import ConfigError
from amend.evaluation.generation import PROTOCOL as GENERATION
from amend.evaluation.generation import Generations, GenerationSettings, quality
from amend.evaluation.items import LOCALITY, Item, items_of
from amend.evaluation.metrics import PROTOCOLS
from amend.evaluation.observe import Observation, item_values, observe
from amend.evaluation.report import EvalResult, aggregate, named_values
from amend.evaluation.scoring import Scorer
from amend.evaluation.sequential import SequentialSettings, run_sequential
from amend.fingerprint import fingerprint
from amend.records import EditRequest

MODES = ("single", "batch", "sequential")


def evaluate(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    requests: Iterable[EditRequest | dict[str, Any]],
    method: str | None = "rome",
    *,
    mode: str = "single",
    protocols: Sequence[str] = PROTOCOLS,
    batch_size: int = 64,
    progress: bool = True,
    edit_options: dict[str, Any] | None = None,
    sequential: SequentialSettings | None = None,
    generation: GenerationSettings | None = None,
    references: Mapping[str, Sequence[str]] | None = None,
    idf: Mapping[str, float] | None = None,
    **overrides: Any,
) -> EvalResult:
    """Evaluate ``method`` on ``requests``; ``method=None`` evaluates the unedited model only.

    Args:
        edit_options: Keyword arguments of :func:`amend.edit` other than config fields (``cache_dir``, ``corpus``).
        sequential: Batch size, checkpoints, saving and resuming of the sequential mode.
        generation: Generate from the requests' generation prompts and report fluency (and consistency).
        references: Reference texts for consistency, by request id.
        idf: The IDF table of consistency's TF-IDF (default: fitted on the texts compared).
        **overrides: Fields of the method's config.
    """
    _check_arguments(mode, protocols, generation)
    requests = as_requests(list(requests))
    items = items_of(requests)
    scorer = Scorer(model, tokenizer, batch_size=batch_size)
    model_info = describe(model)
    before = observe(scorer, items, protocols)
    texts_before = texts_after = None
    if generation is not None:
        texts_before, texts_after = Generations(generation, requests), Generations(generation, requests)
        texts_before.run(scorer, range(len(requests)))
    after, config, seconds, extra = before, {}, [0.0] * len(requests), {}
    options = {**(edit_options or {}), **overrides}
    if method is not None and mode == "sequential":
        after, config, seconds, extra = run_sequential(
            model,
            tokenizer,
            requests,
            items,
            before,
            scorer,
            method,
            protocols,
            options,
            sequential or SequentialSettings(),
            progress,
        )
    elif method is not None:
        run = _single if mode == "single" else _batch
        after, config, seconds = run(
            model, tokenizer, requests, items, scorer, method, protocols, options, progress, texts_after
        )
    elif texts_after is not None:
        texts_after.texts = texts_before.texts
    result = _result(
        method or "none",
        mode,
        list(protocols),
        config,
        model_info,
        requests,
        items,
        before,
        after,
        seconds,
        tokenizer.decode,
    )
    result.extra.update(extra)
    if texts_before is not None:
        _add_generation(result, requests, texts_before, texts_after, references, idf)
    return result


def _check_arguments(mode: str, protocols: Sequence[str], generation: GenerationSettings | None) -> None:
    """Refuse a bad mode or protocol before any work (pre-edit observation is the slow part of a run)."""
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {MODES}, not {mode!r}")
    if generation is not None and mode == "sequential":
        raise ConfigError("fluency and consistency are measured in single and batch modes, not sequential")
    unknown = sorted(set(protocols) - set(PROTOCOLS))
    if unknown:
        raise ConfigError(f"unknown protocol(s) {unknown}; choose from {PROTOCOLS}")


def _single(model, tokenizer, requests, items, scorer, method, protocols, options, progress, texts=None):
    after: list[Observation | None] = [None] * len(items)
    by_request: dict[int, list[int]] = {}
    for index, item in enumerate(items):
        by_request.setdefault(item.request, []).append(index)
    seconds, config = [0.0] * len(requests), {}
    for members in tqdm(edit_groups(requests), desc=f"{method} single", disable=not progress):
        start = time.perf_counter()
        patch = edit(model, tokenizer, [requests[r] for r in members], method, **options)
        for r in members:
            seconds[r] = (time.perf_counter() - start) / len(members)
        config = patch.config
        try:
            indices = [i for r in members for i in by_request[r]]
            for index, seen in zip(indices, observe(scorer, [items[i] for i in indices], protocols), strict=True):
                after[index] = seen
            if texts is not None:
                texts.run(scorer, members)
        finally:
            patch.revert()
    return after, config, seconds


def edit_groups(requests: Sequence[EditRequest]) -> list[list[int]]:
    """Indices of the requests edited together in single mode: one per request, or all of one ``group``."""
    groups: dict[object, list[int]] = {}
    for r, request in enumerate(requests):
        key = ("group", request.group) if request.group is not None else ("request", r)
        groups.setdefault(key, []).append(r)
    return list(groups.values())


def _batch(model, tokenizer, requests, items, scorer, method, protocols, options, progress, texts=None):
    start = time.perf_counter()
    patch = edit(model, tokenizer, requests, method, progress=progress, **options)
    elapsed = time.perf_counter() - start
    try:
        after = observe(scorer, items, protocols)
        if texts is not None:
            texts.run(scorer, range(len(requests)))
    finally:
        patch.revert()
    return after, patch.config, [elapsed / len(requests)] * len(requests)


def _result(method, mode, protocols, config, model_info, requests, items: list[Item], before, after, seconds, decode):
    post = [
        named_values(item_values(it, a, b, protocols), it.kind) for it, a, b in zip(items, after, before, strict=True)
    ]
    pre = [
        named_values({k: v for k, v in item_values(it, b, b, protocols).items() if k != "locality_agreement"}, it.kind)
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
            "prompt": it.prompt,
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
