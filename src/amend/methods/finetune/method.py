"""FT-L and FT-M: Adam on a change Δ of the edited weights, clamped to the L∞ ball, written as dense deltas."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack

import torch

from amend.architectures import Component, Site
from amend.architectures.weights import weight_out_in
from amend.changes import Journal, WeightDelta
from amend.hooks import wrap_site
from amend.methods.base import EditMethod
from amend.methods.finetune.config import FineTuneConfig, FineTuneMConfig
from amend.methods.finetune.objective import Objective, minimise
from amend.requests import EDIT, MULTIMODAL, EditRequest


class FineTuneL(EditMethod):
    """FT-L: the MLP output projections of ``layers`` fine-tuned on the batch, within ``norm_constraint``."""

    name = "ft-l"
    reads = (EDIT, MULTIMODAL)
    config_cls = FineTuneConfig
    config: FineTuneConfig

    def write(self, requests: Sequence[EditRequest], journal: Journal) -> None:
        device = next(self.model.parameters()).device
        objective = Objective.build(self.encoder, requests, self.config.objective, device)
        names = [self.anatomy.mlp_out_proj_name(layer) for layer in self.config.layers]
        deltas = [torch.zeros_like(weight_out_in(self.anatomy.module(name)), dtype=torch.float32) for name in names]
        for delta in deltas:
            delta.requires_grad_(True)
        bound = self.config.norm_constraint

        def project() -> None:
            for delta in deltas:
                delta.clamp_(-bound, bound)

        with ExitStack() as stack:
            for layer, delta in zip(self.config.layers, deltas, strict=True):
                stack.enter_context(wrap_site(self.anatomy, Site(Component.MLP_OUTPUT, layer), _adding(delta)))
            losses = minimise(
                objective,
                self.model,
                deltas,
                steps=self.config.steps,
                lr=self.config.lr,
                weight_decay=self.config.weight_decay,
                after_step=project if bound > 0 else None,
            )
        for name, delta in zip(names, deltas, strict=True):
            journal.add(WeightDelta(name, delta.detach().cpu()))
        self.log["loss"] = [losses[0], losses[-1]]


def _adding(delta: torch.Tensor):
    """The sub-layer's output plus Δ·input: what W + Δ computes, with gradients reaching Δ and the module (and
    anything already attached to it) left as it is."""

    def add(inputs: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        return output + (inputs.float() @ delta.T).to(output.dtype)

    return add


class FineTuneM(FineTuneL):
    """FT-M: FT-L with the loss on the target tokens, teacher-forced (EasyEdit)."""

    name = "ft-m"
    config_cls = FineTuneMConfig
    config: FineTuneMConfig
