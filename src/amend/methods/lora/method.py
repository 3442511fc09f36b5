"""LoRA: peft trains the adapters on the batch; the patch holds the result, merged or attached.

peft injects its LoRA layers by replacing modules, which is a change to the model's structure: it happens only
for the training and is undone before the method writes anything (the original modules are put back, unchanged),
so the patch alone carries the edit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from peft import LoraConfig as PeftLoraConfig
from peft import inject_adapter_in_model
from torch import nn

from amend.architectures import Component, Site
from amend.architectures.weights import is_transposed
from amend.changes import Journal, ModuleAdapter, WeightDelta, attached
from amend.methods.base import EditMethod
from amend.methods.finetune.objective import Objective, minimise
from amend.methods.lora.adapter import LoraAdapter
from amend.methods.lora.config import LoraConfig
from amend.requests import EDIT, MULTIMODAL, EditRequest

ADAPTER = "amend"


class Lora(EditMethod):
    """LoRA on the MLP output projections, trained with peft on FT-M's loss."""

    name = "lora"
    reads = (EDIT, MULTIMODAL)
    config_cls = LoraConfig
    config: LoraConfig

    def write(self, requests: Sequence[EditRequest], journal: Journal) -> None:
        device = next(self.model.parameters()).device
        objective = Objective.build(self.encoder, requests, "target", device)
        names = [self.anatomy.mlp_out_proj_name(layer) for layer in self.config.layers]
        with self.injected(names) as layers:
            parameters = [p for layer in layers for p in (layer.lora_A[ADAPTER].weight, layer.lora_B[ADAPTER].weight)]
            losses = minimise(
                objective,
                self.model,
                parameters,
                steps=self.config.steps,
                lr=self.config.lr,
                weight_decay=self.config.weight_decay,
            )
            factors = [
                (layer.lora_A[ADAPTER].weight.detach().clone(), layer.lora_B[ADAPTER].weight.detach().clone())
                for layer in layers
            ]
        scale = self.config.alpha / self.config.rank
        for layer, name, (lora_a, lora_b) in zip(self.config.layers, names, factors, strict=True):
            if self.config.merged:
                journal.add(WeightDelta(name, (scale * lora_b).cpu(), lora_a.cpu()))
            else:
                site = Site(Component.MLP_OUTPUT, layer)
                journal.add(
                    ModuleAdapter(site, LoraAdapter(lora_a, lora_b, scale), f"lora/{len(journal.changes)}@{layer}")
                )
        self.log["loss"] = [losses[0], losses[-1]]

    def free_label(self, layer: int) -> str:
        """``lora@<layer>/<n>`` with the first n no attached adapter has (edits in a sequence each attach their own)."""
        taken = attached(self.model).adapters
        number = 0
        while f"lora@{layer}/{number}" in taken:
            number += 1
        return f"lora@{layer}/{number}"

    @contextmanager
    def injected(self, names: list[str]) -> Iterator[list[nn.Module]]:
        """peft's LoRA layers in place of the modules ``names`` while the block runs (A seeded, B zero), the
        original modules back afterwards whatever happens."""
        originals = {name: self.model.get_submodule(name) for name in names}
        attributes = dict(vars(self.model))  # peft also records its config on the model
        transposed = is_transposed(next(iter(originals.values())))
        settings = PeftLoraConfig(
            r=self.config.rank,
            lora_alpha=self.config.alpha,
            lora_dropout=0.0,
            target_modules=names,
            fan_in_fan_out=transposed,
            bias="none",
        )
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.config.seed)
                inject_adapter_in_model(settings, self.model, adapter_name=ADAPTER)
            layers = [self.model.get_submodule(name) for name in names]
            for layer in layers:
                for parameter in (layer.lora_A[ADAPTER].weight, layer.lora_B[ADAPTER].weight):
                    parameter.requires_grad_(True)
            yield layers
        finally:
            for name, module in originals.items():
                parent_name, _, child = name.rpartition(".")
                setattr(self.model.get_submodule(parent_name), child, module)
            for key in set(vars(self.model)) - set(attributes):
                delattr(self.model, key)
            for key, value in attributes.items():
                if vars(self.model).get(key) is not value:
                    setattr(self.model, key, value)
