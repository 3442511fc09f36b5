"""What every editing method is: a config class and a ``write`` that puts its deltas through a ledger."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from amend.architectures import Anatomy, anatomy
from amend.methods.config import MethodConfig
from amend.patch import WeightLedger
from amend.records import EditRequest
from amend.stats import Corpus, StatsCache


@dataclass
class Resources:
    """What an edit may use besides its configuration (not part of the result, so not in the config).

    Attributes:
        stats: The statistics cache.
        corpus: A corpus that replaces the config's ``stats_corpus`` (e.g. in-memory texts in tests).
        base_fingerprint: Fingerprint of the unedited model, for statistics keyed by it across sequential edits.
        progress: Show progress bars.
        state: Tensors a method carries from batch to batch (AlphaEdit's accumulated KKᵀ), owned by the
            :class:`~amend.editing.Editor` that saves, restores and resets them.
    """

    stats: StatsCache = field(default_factory=StatsCache)
    corpus: Corpus | None = None
    base_fingerprint: str | None = None
    progress: bool = False
    state: dict[str, torch.Tensor] = field(default_factory=dict)


class EditMethod(ABC):
    """An editing method. Subclasses set ``name`` and ``config_cls`` and implement :meth:`write`.

    ``write`` must change weights only through ``ledger.add`` so that a failure can be rolled back and the patch
    records every step; it never registers hooks itself (it uses :mod:`amend.hooks`).
    """

    name: ClassVar[str]
    config_cls: ClassVar[type[MethodConfig]]

    def __init__(
        self, model: nn.Module, tokenizer: PreTrainedTokenizerBase, config: MethodConfig, resources: Resources
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.resources = resources
        self.anatomy: Anatomy = anatomy(model)
        self.log: dict[str, Any] = {}

    @abstractmethod
    def write(self, requests: Sequence[EditRequest], ledger: WeightLedger) -> None:
        """Compute the edit for ``requests`` and apply it through ``ledger``."""


@contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """Eval mode and no parameter gradients while editing; both restored afterwards."""
    was_training = model.training
    flags = [(param, param.requires_grad) for param in model.parameters()]
    model.eval()
    for param, _ in flags:
        param.requires_grad_(False)
    try:
        yield
    finally:
        for param, flag in flags:
            param.requires_grad_(flag)
        model.train(was_training)
