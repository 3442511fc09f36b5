"""``amend.edit``: apply one edit to a model in place and get its :class:`~amend.patch.Patch` back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn
from transformers import PreTrainedTokenizerBase

from amend import __version__
from amend.errors import AmendError, EditFailed
from amend.fingerprint import fingerprint
from amend.methods import load_method
from amend.methods.base import Resources, frozen
from amend.patch import Patch, WeightLedger
from amend.records import EditRequest
from amend.stats import Corpus, StatsCache


def as_requests(
    requests: EditRequest | Mapping[str, Any] | Iterable[EditRequest | Mapping[str, Any]],
) -> list[EditRequest]:
    """Requests from request objects or plain dicts (validated; errors name the record index and field)."""
    if isinstance(requests, (EditRequest, Mapping)):
        requests = [requests]
    out = [r if isinstance(r, EditRequest) else EditRequest.from_dict(r, record_id=i) for i, r in enumerate(requests)]
    if not out:
        raise EditFailed("no requests to edit")
    return out


def edit(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    requests: EditRequest | Mapping[str, Any] | Iterable[EditRequest | Mapping[str, Any]],
    method: str = "rome",
    *,
    cache_dir: str | Path | None = None,
    corpus: Corpus | Sequence[str] | str | Path | None = None,
    progress: bool = False,
    **overrides: Any,
) -> Patch:
    """Edit ``model`` in place and return the patch (``patch.revert()`` undoes it bit for bit).

    Args:
        model: A HuggingFace causal LM whose ``model_type`` is in amend's architecture table.
        tokenizer: Its tokenizer (not modified).
        requests: The facts to write.
        method: A registered method name (``amend ls`` lists them).
        cache_dir: Where statistics are cached (default ``$AMEND_CACHE`` or ``~/.cache/amend``).
        corpus: Texts for the key statistics, replacing the config's ``stats_corpus``: a :class:`Corpus`, a list
            of strings, a text file, or ``hf:NAME[:CONFIG]``.
        progress: Show progress bars.
        **overrides: Fields of the method's config (e.g. ``layer=5``).

    If anything fails — an exception, NaN or inf in an intermediate — the model is left exactly as it was and
    :class:`~amend.errors.EditFailed` (or the amend error that caused it) is raised.
    """
    method_cls = load_method(method)
    config = method_cls.config_cls.for_model(model, **overrides)
    requests = as_requests(requests)
    base = fingerprint(model)
    resources = Resources(
        stats=StatsCache(cache_dir),
        corpus=None if corpus is None else Corpus.resolve(corpus),
        base_fingerprint=base,
        progress=progress,
    )
    ledger = WeightLedger(model)
    try:
        with frozen(model):
            editor = method_cls(model, tokenizer, config, resources)
            editor.write(requests, ledger)
    except AmendError:
        ledger.rollback()
        raise
    except Exception as err:
        ledger.rollback()
        raise EditFailed(f"{method} failed and the model was left unchanged: {err}") from err
    except BaseException:
        ledger.rollback()
        raise
    patch = Patch(
        method=method_cls.name,
        config=config.to_dict(),
        requests=requests,
        steps=list(ledger.steps),
        base_fingerprint=base,
        result_fingerprint=fingerprint(model),
        amend_version=__version__,
        log=editor.log,
    )
    patch._attach(model, ledger.originals)
    return patch
