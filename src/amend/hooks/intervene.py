"""Change activations at named sites: add vectors at chosen token positions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from amend.architectures.anatomy import Anatomy, Site
from amend.hooks._register import hook_output, hook_site


@contextmanager
def add_at_positions(anatomy: Anatomy, site: Site, positions: torch.Tensor, vectors: torch.Tensor) -> Iterator[None]:
    """Add ``vectors[i]`` to the activation of row ``i`` at token ``positions[i]`` while the block runs.

    ``vectors`` may require grad (the target-vector optimisation differentiates through it). The vectors are
    read at each forward pass, so an optimiser may update them in place between passes.

    Args:
        anatomy: The model's anatomy.
        site: Where to add.
        positions: ``(batch,)`` token index per row.
        vectors: ``(batch, width)``.
    """

    def add(hidden: torch.Tensor) -> torch.Tensor:
        if hidden.shape[0] != positions.shape[0]:
            raise ValueError(f"batch of {hidden.shape[0]} rows but {positions.shape[0]} positions were given")
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        changed = hidden.clone()
        changed[rows, positions] = changed[rows, positions] + vectors.to(hidden.dtype)
        return changed

    with hook_site(anatomy, site, add):
        yield


@contextmanager
def noise_at_embeddings(model: torch.nn.Module, span: tuple[int, int], noise: torch.Tensor) -> Iterator[None]:
    """Add ``noise[row]`` (batch, span length, width) to the token embeddings of ``span`` (first, last inclusive)
    while the block runs: ROME's corrupted-subject run."""
    first, last = span

    def corrupt(embedded: torch.Tensor) -> torch.Tensor:
        changed = embedded.clone()
        changed[:, first : last + 1] = changed[:, first : last + 1] + noise.to(embedded.dtype)
        return changed

    with hook_output(model.get_input_embeddings(), corrupt):
        yield
