"""``amend.evaluate``: edit in a mode, observe before and after, and report every metric per protocol.

Modes:
* ``single`` — each request is applied, evaluated and reverted before the next (the model is never left edited);
* ``batch`` — all requests are applied together, evaluated, then reverted;
* ``sequential`` — batches applied in order without restoring (see :mod:`amend.evaluation.sequential`); the main
  summary is the retention of all edits at the end, ``extra`` holds the immediate summary and the checkpoints.

Pre-edit observations are computed once, batched over every item, and reused: for locality agreement and for the
``pre_summary`` baseline.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from torch import nn
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from amend.editing import as_requests, edit
from amend.errors import ConfigError
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
    **overrides: Any,
) -> EvalResult:
    """Evaluate ``method`` on ``requests``; ``method=None`` evaluates the unedited model only.

    Args:
        edit_options: Keyword arguments of :func:`amend.edit` other than config fields (``cache_dir``, ``corpus``).
        sequential: Batch size, checkpoints, saving and resuming of the sequential mode.
        **overrides: Fields of the method's config.
    """
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {MODES}, not {mode!r}")
    unknown = sorted(set(protocols) - set(PROTOCOLS))
    if unknown:
        raise ConfigError(f"unknown protocol(s) {unknown}; choose from {PROTOCOLS}")
    requests = as_requests(list(requests))
    items = items_of(requests)
    scorer = Scorer(model, tokenizer, batch_size=batch_size)
    model_info = describe(model)
    before = observe(scorer, items, protocols)
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
        after, config, seconds = run(model, tokenizer, requests, items, scorer, method, protocols, options, progress)
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
    return result


def _single(model, tokenizer, requests, items, scorer, method, protocols, options, progress):
    after: list[Observation | None] = [None] * len(items)
    by_request: dict[int, list[int]] = {}
    for index, item in enumerate(items):
        by_request.setdefault(item.request, []).append(index)
    seconds, config = [], {}
    for r, request in enumerate(tqdm(requests, desc=f"{method} single", disable=not progress)):
        start = time.perf_counter()
        patch = edit(model, tokenizer, [request], method, **options)
        seconds.append(time.perf_counter() - start)
        config = patch.config
        try:
            indices = by_request[r]
            for index, seen in zip(indices, observe(scorer, [items[i] for i in indices], protocols), strict=True):
                after[index] = seen
        finally:
            patch.revert()
    return after, config, seconds


def _batch(model, tokenizer, requests, items, scorer, method, protocols, options, progress):
    start = time.perf_counter()
    patch = edit(model, tokenizer, requests, method, progress=progress, **options)
    elapsed = time.perf_counter() - start
    try:
        after = observe(scorer, items, protocols)
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
