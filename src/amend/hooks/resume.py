"""Run a forward pass from a decoder layer on, with that layer's input given instead of computed.

An optimisation that changes the network only at layer L (a target vector added there) recomputes layers 0..L−1 on
every step for nothing: their outputs do not depend on what it optimises. :func:`layer_input` records the input of
layer L once; :func:`resume_at` then runs only layers L.. on it. The embeddings still run (on the same token ids,
for the masks and position encodings the model builds from them), and their output is discarded at layer L.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from amend.architectures.anatomy import Anatomy


def _hidden_argument(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
    """A decoder layer's hidden-states argument (positional in every architecture amend knows, keyword in some)."""
    return args[0] if args else kwargs["hidden_states"]


@contextmanager
def layer_input(anatomy: Anatomy, layer: int) -> Iterator[dict[str, torch.Tensor]]:
    """Record the hidden states entering decoder layer ``layer`` (``(batch, seq, width)``, detached) under
    ``"hidden"`` during the forward passes run inside the block."""
    records: dict[str, torch.Tensor] = {}

    def record(_module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        records["hidden"] = _hidden_argument(args, kwargs).detach()

    handle = anatomy.layers[layer].register_forward_pre_hook(record, with_kwargs=True)
    try:
        yield records
    finally:
        handle.remove()


@contextmanager
def resume_at(anatomy: Anatomy, layer: int, hidden: torch.Tensor) -> Iterator[None]:
    """Inside the block, a forward pass runs only decoder layers ``layer``.. and layer ``layer`` receives ``hidden``.

    Enter it last, after every hook the pass needs: while it is active the model's layer list holds only the layers
    run, so module paths with layer indices resolve to other modules (hooks already registered stay on the right
    ones). The full list is back when the block exits, also on an error.
    """
    parent_path, _, name = anatomy.spec.layers.rpartition(".")
    parent = anatomy.model.get_submodule(parent_path) if parent_path else anatomy.model
    full = getattr(parent, name)

    def replace(_module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]):
        if args:
            return (hidden, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": hidden}

    handle = full[layer].register_forward_pre_hook(replace, with_kwargs=True)
    setattr(parent, name, nn.ModuleList(list(full)[layer:]))
    try:
        yield
    finally:
        setattr(parent, name, full)
        handle.remove()
