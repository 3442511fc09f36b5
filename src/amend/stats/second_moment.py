"""Uncentred second moment E[k kᵀ] of the keys entering a linear module, over a text corpus.

Every non-pad token of every document contributes its key (the module's input). Sums accumulate in float64 by
default: the originals accumulate tens of millions of outer products in float32 and lose precision. The products
themselves are formed in float32 over blocks of at most ``PRODUCT_BLOCK`` tokens (the keys are float32 activations;
a float64 product costs twice as much on a CPU and only its last block's rounding differs), then added in float64.
Documents are drawn from the corpus at random with a seed (``sample_seed``) and batched by length, so a batch pads
little.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from amend.architectures.anatomy import Anatomy, Component, Site
from amend.errors import ConfigError
from amend.hooks import capture, stop_after
from amend.stats.corpus import Corpus
from amend.tokens import pad_id, pad_right


@dataclass(frozen=True)
class SecondMoment:
    """Raw sum of k kᵀ and the number of keys summed."""

    total: torch.Tensor  # (d_in, d_in)
    count: int

    def mean(self) -> torch.Tensor:
        """E[k kᵀ] = total / count, in the accumulation dtype."""
        return self.total / self.count


@dataclass(frozen=True)
class StatsSettings:
    """How statistics are collected (every field is part of the cache key).

    Attributes:
        token_budget: Stop after this many tokens (the last document may be cut short).
        max_length: Truncate documents to this many tokens (``None``: the model's context length).
        batch_tokens: Padded tokens per forward pass.
        dtype: Accumulation dtype, ``"float64"`` or ``"float32"`` (the originals' choice).
        sample_seed: Documents are taken in a random order drawn with this seed until the budget is spent (the
            originals shuffle the document indices with ``random.Random(1)``); ``None`` takes them in corpus order.
    """

    token_budget: int = 100_000
    max_length: int | None = None
    batch_tokens: int = 4096
    dtype: str = "float64"
    sample_seed: int | None = 1

    def __post_init__(self) -> None:
        # Refused here, before anything is computed: these settings name a file in a cache shared between runs, and
        # an integer or half-precision sum of millions of outer products (or a budget of no tokens) is junk that
        # would be written under a valid-looking key.
        if self.dtype not in ACCUMULATION_DTYPES:
            raise ConfigError(
                f"statistics dtype must be one of {', '.join(map(repr, ACCUMULATION_DTYPES))}, not {self.dtype!r}: "
                "sums of millions of outer products need a float32 or float64 accumulator"
            )
        if self.sample_seed is not None and not _is_int(self.sample_seed):
            raise ConfigError(f"statistics sample_seed must be a whole number or None, not {self.sample_seed!r}")
        for name in ("token_budget", "batch_tokens", "max_length"):
            value = getattr(self, name)
            if not (value is None and name == "max_length") and (not _is_int(value) or value < 1):
                allowed = "a positive whole number" + (" or None" if name == "max_length" else "")
                raise ConfigError(f"statistics {name} must be {allowed}, not {value!r}")


ACCUMULATION_DTYPES = ("float64", "float32")
PRODUCT_BLOCK = 2048  # tokens whose outer products are summed in float32 before joining the float64 total
SORT_WINDOW = 256  # documents read ahead and sorted by length before they are batched


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def collect_second_moments(
    anatomy: Anatomy,
    tokenizer: PreTrainedTokenizerBase,
    layers: Sequence[int],
    corpus: Corpus,
    settings: StatsSettings,
    *,
    progress: bool = True,
) -> dict[int, SecondMoment]:
    """E[k kᵀ] of the MLP keys at each of ``layers``, in one pass over ``corpus``."""
    dtype = getattr(torch, settings.dtype)
    max_length = settings.max_length or anatomy.context_length
    sites = [Site(Component.MLP_KEY, layer) for layer in layers]
    last_site = max(sites, key=lambda site: site.layer)
    totals: dict[int, torch.Tensor] = {}
    count = 0
    model = anatomy.model
    device = next(model.parameters()).device
    bar = tqdm(total=settings.token_budget, unit="tok", desc="second moment", disable=not progress)
    with torch.no_grad():
        for rows in _token_batches(tokenizer, corpus, settings, max_length):
            batch = pad_right(rows, pad_id(tokenizer)).to(device)
            with capture(anatomy, sites) as records, stop_after(anatomy, last_site):
                model(**batch.model_inputs())
            mask = batch.attention_mask.bool()
            for site in sites:
                keys = records[site][mask]  # (tokens, d_in)
                totals[site.layer] = totals.get(site.layer, 0) + outer_sum(keys, dtype)
            count += int(mask.sum())
            bar.update(int(mask.sum()))
    bar.close()
    if count == 0:
        raise ValueError(f"corpus {corpus.identity} produced no tokens")
    return {layer: SecondMoment(total.cpu(), count) for layer, total in totals.items()}


def outer_sum(keys: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Σ k kᵀ over the rows of ``keys`` in ``dtype``: float32 products of blocks of ``PRODUCT_BLOCK`` rows, added in
    ``dtype``."""
    width = keys.shape[-1]
    total = torch.zeros(width, width, dtype=dtype, device=keys.device)
    for block in keys.split(PRODUCT_BLOCK):
        block = block.float()
        total += (block.T @ block).to(dtype)
    return total


def _token_batches(tokenizer: PreTrainedTokenizerBase, corpus: Corpus, settings: StatsSettings, max_length: int):
    """Yield lists of token rows, each list at most ``batch_tokens`` padded tokens, within the token budget: the
    documents the budget takes (in the order of ``settings.sample_seed``), batched by length within windows of
    ``SORT_WINDOW`` documents."""
    remaining = settings.token_budget
    window: list[list[int]] = []
    for document in corpus.sample(settings.sample_seed):
        ids = tokenizer(document, truncation=True, max_length=max_length)["input_ids"][:remaining]
        if not ids:
            continue
        window.append(ids)
        remaining -= len(ids)
        if remaining <= 0:
            break
        if len(window) == SORT_WINDOW:
            yield from _by_length(window, settings.batch_tokens)
            window = []
    yield from _by_length(window, settings.batch_tokens)


def _by_length(documents: list[list[int]], batch_tokens: int):
    """Batches of at most ``batch_tokens`` padded tokens, of documents of similar length."""
    rows: list[list[int]] = []
    for ids in sorted(documents, key=len):
        if rows and (len(rows) + 1) * len(ids) > batch_tokens:
            yield rows
            rows = []
        rows.append(ids)
    if rows:
        yield rows
