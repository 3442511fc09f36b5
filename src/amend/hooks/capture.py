"""Read activations at named sites, optionally at one token position per batch row."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch

from amend.architectures.anatomy import Anatomy, Site
from amend.hooks._register import hook_sites


@contextmanager
def capture(
    anatomy: Anatomy,
    sites: Iterable[Site],
    positions: torch.Tensor | None = None,
    *,
    detach: bool = True,
) -> Iterator[dict[Site, torch.Tensor]]:
    """Record the activation at each site during the forward passes run inside the block.

    Args:
        anatomy: The model's anatomy.
        sites: Where to read.
        positions: ``(batch,)`` token index per row; the record is then ``(batch, width)``. ``None`` records
            the full ``(batch, seq, width)`` activation.
        detach: Keep the autograd graph when ``False`` (used to read an initial value that a loss depends on).

    Yields:
        A dict filled in as the forward pass runs: site -> activation. A later forward pass overwrites it.
    """
    records: dict[Site, torch.Tensor] = {}

    def recorder(site: Site):
        def record(hidden: torch.Tensor) -> None:
            value = hidden if positions is None else select_positions(hidden, positions)
            records[site] = value.detach() if detach else value

        return record

    with hook_sites(anatomy, {site: recorder(site) for site in sites}):
        yield records


def select_positions(hidden: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """(batch, seq, width) -> (batch, width): row i at ``positions[i]``."""
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return hidden[rows, positions.to(hidden.device)]
