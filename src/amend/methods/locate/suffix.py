"""Forward passes of a fixed batch that compute only what an optimisation at one site can change.

For an optimisation that adds a vector at layer L and token t of each row (a target vector), nothing at tokens
before t (at any layer) or below layer L (at any token) depends on it. :class:`SuffixForward` computes those parts
once and then runs only the rest on every step.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch

from amend.architectures.anatomy import Anatomy, Component, Site
from amend.forward import cache_keyword, forward_with_cache, unembed
from amend.hooks import stop_after
from amend.hooks.resume import layer_input, resume_at
from amend.tokens import Batch


@dataclass(frozen=True)
class SuffixForward:
    """Forward passes of a fixed batch that compute only what can change: positions from each row's ``split`` on,
    at decoder layers from ``layer`` on.

    For an optimisation that adds a vector at layer L and token t of each row, nothing at tokens before t (at any
    layer) or below layer L (at any token) depends on it. :meth:`prepare` computes those parts once — the keys and
    values of the tokens before the split at every layer, and the input of layer L at the tokens from the split —
    and :meth:`logits_at` runs the rest: the suffix tokens through layers L.. attending to the cached prefix. On a
    model whose layers behave as the architecture table says this gives the full forward's logits up to float
    rounding; the target optimisation checks that once per group of requests against its first, full forward before
    relying on it (architectures whose layers need more than their input, or take no cache, fail the check).

    Hooks at sites of layer L and above see ``(rows, suffix width, d)`` activations: token ``split[row]`` of the
    full sequence is suffix position 0.
    """

    anatomy: Anatomy
    layer: int
    split: torch.Tensor  # (rows,) first token that can change
    suffix_ids: torch.Tensor  # (rows, width) token ids from the split on, right-padded
    suffix_lengths: torch.Tensor  # (rows,)
    hidden: torch.Tensor  # (rows, width, d) input of `layer` at the suffix tokens
    prefix_mask: torch.Tensor  # (rows, prefix width) 1 at a row's own tokens before its split
    cache: Any | None  # the model's key/value cache of the prefix tokens (None when no row has a prefix)

    @classmethod
    def prepare(cls, anatomy: Anatomy, batch: Batch, split: torch.Tensor, layer: int) -> SuffixForward:
        """Run the parts of ``batch`` that do not depend on anything added at (``layer``, ``split``) (no grad)."""
        model = anatomy.model
        split = split.to(batch.input_ids.device)
        prefix = int(split.max())
        with torch.no_grad():
            with layer_input(anatomy, layer) as record, stop_after(anatomy, Site(Component.BLOCK_OUTPUT, layer)):
                model.base_model(**batch.model_inputs())
            cache = None
            if prefix > 0:
                _, cache = forward_with_cache(
                    model.base_model,
                    input_ids=batch.input_ids[:, :prefix],
                    attention_mask=batch.attention_mask[:, :prefix],
                )
        return cls.from_states(anatomy, batch.input_ids, batch.lengths, split, layer, record["hidden"], cache, prefix)

    @classmethod
    def from_states(
        cls,
        anatomy: Anatomy,
        input_ids: torch.Tensor,
        lengths: torch.Tensor,
        split: torch.Tensor,
        layer: int,
        layer_inputs: torch.Tensor,
        cache: Any | None,
        prefix: int,
    ) -> SuffixForward:
        """From what is already known of a batch: the full rows' ``input_ids`` (and ``lengths``), the input of
        ``layer`` at every token (``(rows, seq, d)``) and the cache of the first ``prefix`` tokens of every row (the
        tokens before a row's split are read from it, the others masked)."""
        device = input_ids.device
        width = int((lengths - split).max())
        index = (split[:, None] + torch.arange(width, device=device)[None]).clamp(max=input_ids.shape[1] - 1)
        return cls(
            anatomy=anatomy,
            layer=layer,
            split=split,
            suffix_ids=input_ids.gather(1, index),
            suffix_lengths=lengths - split,
            hidden=layer_inputs.gather(1, index[:, :, None].expand(-1, -1, layer_inputs.shape[-1])),
            prefix_mask=(torch.arange(prefix, device=device)[None] < split[:, None]).long(),
            cache=cache,
        )

    def logits_at(self, rows: torch.Tensor, at_rows: torch.Tensor, at_cols: torch.Tensor) -> torch.Tensor:
        """Float32 logits of the batch restricted to ``rows`` at (``at_rows[i]``, ``at_cols[i]``): ``at_rows``
        index into ``rows``, ``at_cols`` are positions in the full sequence (at or after the row's split)."""
        model = self.anatomy.model
        device = self.hidden.device
        rows = rows.to(device)
        width = int(self.suffix_lengths[rows].max())
        steps = torch.arange(width, device=device)
        suffix_mask = (steps[None] < self.suffix_lengths[rows, None]).long()
        inputs: dict[str, Any] = {
            "input_ids": self.suffix_ids[rows, :width],
            "attention_mask": torch.cat([self.prefix_mask[rows], suffix_mask], dim=1),
            "position_ids": self.split[rows, None] + steps[None],
        }
        if self.cache is not None:
            cache = copy.deepcopy(self.cache)
            cache.batch_select_indices(rows)
            inputs |= {cache_keyword(model.base_model): cache, "use_cache": True}
        with resume_at(self.anatomy, self.layer, self.hidden[rows, :width]):
            hidden = model.base_model(**inputs).last_hidden_state
        at_rows, at_cols = at_rows.to(device), at_cols.to(device)
        return unembed(model, hidden[at_rows, at_cols - self.split[rows][at_rows]])


def logits_close(found: torch.Tensor, expected: torch.Tensor) -> bool:
    """Equal up to the rounding of differently shaped matrix products: the test a partial forward passes before an
    optimisation relies on it."""
    if expected.numel() == 0:
        return True
    scale = float(expected.abs().max().clamp(min=1.0))
    return float((found - expected).abs().max()) <= 1e-4 * scale
