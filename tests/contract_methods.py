"""Two small methods that write the change kinds no shipped method writes yet, so the contract matrix covers them:
``Steer`` attaches a fixed vector at a block output (a module adapter), ``Remember`` stores the edited facts in a
context memory that evaluation reads through a contextual language model."""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Sequence

import torch
from torch import nn

from amend.architectures import Component, Site
from amend.changes import AddVector, ContextFacts, Journal, ModuleAdapter
from amend.lm import ContextualLM, LanguageModel, all_facts
from amend.methods.base import EditMethod
from amend.methods.config import MethodConfig, option
from amend.requests import EditRequest


@dataclasses.dataclass(frozen=True)
class SteerConfig(MethodConfig):
    method = "steer"
    layer: int = option(0, "The block whose output each request's vector is added to.")
    scale: float = option(1.0, "Norm of each added vector.")


class Steer(EditMethod):
    """One fixed random vector per request (seeded by its id), added at every position of a block's output."""

    name = "steer"
    config_cls = SteerConfig
    config: SteerConfig

    def write(self, requests: Sequence[EditRequest], journal: Journal) -> None:
        site = Site(Component.BLOCK_OUTPUT, self.config.layer)
        for request in requests:
            seed = zlib.crc32(str(request.record_id).encode())
            vector = torch.randn(self.anatomy.hidden_size, generator=torch.Generator().manual_seed(seed))
            vector = vector / vector.norm() * self.config.scale
            journal.add(ModuleAdapter(site, AddVector(vector), label=f"steer/{request.record_id}"))


@dataclasses.dataclass(frozen=True)
class RememberConfig(MethodConfig):
    method = "remember"
    memory: str = option("default", "The context memory the facts go to.")


class Remember(EditMethod):
    """Stores each request's new fact as a sentence; evaluation puts every stored fact before each prompt."""

    name = "remember"
    config_cls = RememberConfig
    config: RememberConfig

    def write(self, requests: Sequence[EditRequest], journal: Journal) -> None:
        facts = tuple(f"{request.text} {request.target_new}." for request in requests)
        journal.add(ContextFacts(facts, self.config.memory))

    @classmethod
    def observed(cls, lm: LanguageModel, model: nn.Module, config: RememberConfig) -> LanguageModel:
        return ContextualLM(lm, all_facts(model))
