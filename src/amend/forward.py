"""Forward passes that compute logits only where they are needed.

A full (batch, seq, vocab) logits tensor is the largest object in an editing loop (vocabularies of 50k–150k).
Losses and metrics need logits at a few positions per row, so we run the base model and unembed only those.
"""

from __future__ import annotations

import torch
from torch import nn

from amend.tokens import Batch


def logits_at(model: nn.Module, batch: Batch, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Float32 logits at (rows[i], cols[i]) for each i: shape (len(rows), vocab)."""
    hidden = model.base_model(**batch.model_inputs()).last_hidden_state  # (B, S, d), final norm applied
    selected = hidden[rows.to(hidden.device), cols.to(hidden.device)]
    logits = model.get_output_embeddings()(selected).float()
    softcap = getattr(model.config, "final_logit_softcapping", None)  # Gemma 2
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    return logits
