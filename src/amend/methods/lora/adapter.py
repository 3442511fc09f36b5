"""An attached (unmerged) LoRA update of one linear sub-layer: output + (α/r)·B·A·input."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from amend.changes.adapters import SiteAdapter
from amend.errors import PatchMismatch


class LoraAdapter(SiteAdapter):
    """Adds ``scale · B (A x)`` to the sub-layer's output, for its input x (A: (r, in), B: (out, r))."""

    name = "lora"
    wraps = True

    def __init__(self, lora_a: torch.Tensor, lora_b: torch.Tensor, scale: float):
        super().__init__()
        if lora_a.dim() != 2 or lora_b.dim() != 2 or lora_a.shape[0] != lora_b.shape[1]:
            raise PatchMismatch(f"LoRA factors of shapes {tuple(lora_a.shape)} and {tuple(lora_b.shape)} do not chain")
        self.register_buffer("lora_a", lora_a.detach().float().clone())
        self.register_buffer("lora_b", lora_b.detach().float().clone())
        self.scale = float(scale)

    def forward(self, inputs: torch.Tensor, output: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        update = (inputs.float() @ self.lora_a.T) @ self.lora_b.T
        return output + (self.scale * update).to(output.dtype)

    def settings(self) -> dict[str, Any]:
        return {"scale": self.scale}

    @classmethod
    def build(cls, settings: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> LoraAdapter:
        if "lora_a" not in tensors or "lora_b" not in tensors or not isinstance(settings.get("scale"), (int, float)):
            raise PatchMismatch("a LoRA adapter needs 'lora_a', 'lora_b' and a numeric 'scale'")
        return cls(tensors["lora_a"], tensors["lora_b"], float(settings["scale"]))
