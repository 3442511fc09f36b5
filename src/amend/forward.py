"""Forward passes that compute logits only where they are needed.

A full (batch, seq, vocab) logits tensor is the largest object in an editing loop (vocabularies of 50k–150k).
Losses and metrics need logits at a few positions per row, so we run the base model and unembed only those.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from amend.architectures.anatomy import Anatomy
from amend.tokens import Batch


def logits_at(model: nn.Module, batch: Batch, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Float32 logits at (rows[i], cols[i]) for each i: shape (len(rows), vocab)."""
    if model.base_model is model:  # BLIP-2 runs its text model inside and returns only the logits
        logits = model(**batch.model_inputs()).logits
        return logits[rows.to(logits.device), cols.to(logits.device)].float()
    hidden = model.base_model(**batch.model_inputs()).last_hidden_state  # (B, S, d), final norm applied
    return unembed(model, hidden[rows.to(hidden.device), cols.to(hidden.device)])


def unembed(model: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    """Float32 logits of final-normed hidden states ``(n, d)``."""
    logits = model.get_output_embeddings()(hidden).float()
    softcap = getattr(model.config, "final_logit_softcapping", None)  # Gemma 2
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    return logits


def lens_logits(anatomy: Anatomy, hidden: torch.Tensor) -> torch.Tensor:
    """Float32 logits of residual-stream states ``(n, d)`` of any layer, read through the final norm and the
    unembedding as the last layer's are (the originals' ``v_loss_layer``; the "logit lens")."""
    return unembed(anatomy.model, anatomy.module(anatomy.spec.final_norm)(hidden))


def forward_with_cache(base_model: nn.Module, **inputs) -> tuple[torch.Tensor, object]:
    """(last hidden state, key/value cache) of a base model's forward with ``use_cache``, whichever name the
    installed transformers gives the cache."""
    out = base_model(**inputs, use_cache=True)
    cache = getattr(out, cache_keyword(base_model), None)
    return out.last_hidden_state, cache if cache is not None else out.past_key_values


def cache_keyword(base_model: nn.Module) -> str:
    """The keyword a base model takes its key/value cache under (renamed from ``past_key_values`` to ``cache`` in
    transformers 5)."""
    return "cache" if "cache" in inspect.signature(base_model.forward).parameters else "past_key_values"
