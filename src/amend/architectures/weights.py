"""Reading and writing a linear map's weight in one orientation, whatever the module stores.

amend always reasons about W with shape (out_features, in_features), so that y = W k + b. HF ``nn.Linear``
stores exactly that; GPT-2's ``Conv1D`` stores Wᵀ (in, out). The orientation is decided by the module's type,
never by comparing shapes, which cannot tell the orientation of a square matrix.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D


def is_transposed(module: nn.Module) -> bool:
    """Whether ``module.weight`` holds Wᵀ rather than W."""
    if isinstance(module, Conv1D):
        return True
    if isinstance(module, nn.Linear):
        return False
    raise TypeError(f"amend can only edit nn.Linear and Conv1D weights, not {type(module).__name__}")


def weight_out_in(module: nn.Module) -> torch.Tensor:
    """W as an (out, in) view of the stored parameter (no copy)."""
    weight = module.weight
    return weight.T if is_transposed(module) else weight


def dims(module: nn.Module) -> tuple[int, int]:
    """(out_features, in_features) of the linear map."""
    out_features, in_features = weight_out_in(module).shape
    return out_features, in_features


def bias(module: nn.Module) -> torch.Tensor | None:
    return getattr(module, "bias", None)


def apply_map(module: nn.Module, keys: torch.Tensor) -> torch.Tensor:
    """y = W k + b for a batch of keys (n, in), computed in the keys' dtype."""
    w = weight_out_in(module).to(keys.dtype)
    out = keys @ w.T
    b = bias(module)
    return out if b is None else out + b.to(keys.dtype)
