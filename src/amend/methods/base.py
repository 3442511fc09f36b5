"""What every editing method is: a config class and a ``write`` that puts its changes through a journal."""

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
from amend.changes import Journal
from amend.lm.base import LanguageModel
from amend.methods.config import MethodConfig
from amend.prompting import PromptEncoder, prompt_encoder
from amend.requests import EDIT, EditRequest
from amend.stats import Corpus, StatsCache
from amend.stats.given import GivenMoment
from amend.testbeds.base import Testbed


@dataclass
class Resources:
    """What an edit may use besides its configuration (not part of the result, so not in the config).

    Attributes:
        stats: The statistics cache.
        corpus: A corpus that replaces the config's ``stats_corpus`` (e.g. in-memory texts in tests).
        testbed: The testbed the model belongs to, if any; its statistics corpus is used when no ``corpus`` is given.
        base_fingerprint: Fingerprint of the unedited model, for statistics keyed by it across edits (an editor's
            batches, and separate edits of a model amend edited before: :meth:`StatsCache.unedited`).
        present_fingerprint: Fingerprint of the model as the edit starts: statistics the unedited model's cache
            lacks can only be computed from it, and are then kept under it.
        progress: Show progress bars.
        statistics: Second moments given by the caller for some layers (:mod:`amend.stats.given`), used instead
            of the cache's.
        state: Tensors a method carries from batch to batch (AlphaEdit's accumulated KKᵀ), owned by the
            :class:`~amend.editing.Editor` that saves, restores and resets them.
    """

    stats: StatsCache = field(default_factory=StatsCache)
    corpus: Corpus | None = None
    testbed: Testbed | None = None
    base_fingerprint: str | None = None
    present_fingerprint: str | None = None
    progress: bool = False
    state: dict[str, torch.Tensor] = field(default_factory=dict)
    corpus_used: str | None = None  # identity of the corpus statistics were last asked for (reports record it)
    templates: dict[Any, Any] = field(default_factory=dict)  # sampled context templates, by their settings
    statistics: dict[int, GivenMoment] = field(default_factory=dict)  # second moments the caller gave, by layer
    keep_intermediates: bool = False  # methods keep their keys, targets, residuals... (EditMethod.keep)
    factored: dict[Any, Any] = field(default_factory=dict)  # factorisations of the statistics, by what they factor

    def corpus_for(self, config: Any) -> Corpus:
        """The corpus given to the edit, else the testbed's, else the one the config names (``stats_corpus``)."""
        if self.corpus is not None:
            corpus = self.corpus
        elif self.testbed is not None:
            corpus = self.testbed.stats_corpus()
        else:
            corpus = Corpus.resolve(config.stats_corpus)
        self.corpus_used = corpus.identity
        return corpus


class EditMethod(ABC):
    """An editing method. Subclasses set ``name`` and ``config_cls`` and implement :meth:`write`.

    ``write`` must change the model only through ``journal.add`` (weight deltas, module adapters, context facts:
    :mod:`amend.changes`) so that a failure can be rolled back and the patch records every change; it never
    registers hooks itself (it uses :mod:`amend.hooks`, or a :class:`~amend.changes.ModuleAdapter`).

    Attributes:
        reads: The request kinds the method edits from (:data:`amend.requests.REQUEST_KINDS`).
        encoder: How prompts become token rows: the tokenizer's, or a vision-language processor's
            (:func:`amend.prompting.prompt_encoder`); ``tokenizer`` is always the text tokenizer.
    """

    name: ClassVar[str]
    config_cls: ClassVar[type[MethodConfig]]
    reads: ClassVar[tuple[str, ...]] = (EDIT,)

    def __init__(
        self, model: nn.Module, tokenizer: PreTrainedTokenizerBase, config: MethodConfig, resources: Resources
    ):
        self.model = model
        self.encoder: PromptEncoder = prompt_encoder(tokenizer)
        self.tokenizer = self.encoder.tokenizer
        self.config = config
        self.resources = resources
        self.anatomy: Anatomy = anatomy(model)
        self.log: dict[str, Any] = {}
        self.intermediates: dict[str, torch.Tensor] = {}

    def keep(self, name: str, tensor: torch.Tensor) -> None:
        """Keep an intermediate of the edit (a key, a target vector, a residual, a projector) under ``name`` when
        the caller asked for them (``Editor(keep_intermediates=True)``); they end up in ``patch.intermediates``."""
        if self.resources.keep_intermediates:
            self.intermediates[name] = tensor.detach().cpu().contiguous()

    @abstractmethod
    def write(self, requests: Sequence[EditRequest], journal: Journal) -> None:
        """Compute the edit for ``requests`` and apply it through ``journal``."""

    @classmethod
    def scored(cls, requests: Sequence[EditRequest], config: MethodConfig) -> list[EditRequest]:
        """The requests as evaluation may score them: a method that learns from some of a request's probes (such
        as BalancEdit's calibration samples) takes those out, so no metric is computed on what the edit saw."""
        return list(requests)

    @classmethod
    def observed(cls, lm: LanguageModel, model: nn.Module, config: MethodConfig) -> LanguageModel:
        """How evaluation sees ``model`` when this method (configured by ``config``) edits it: ``lm`` itself for
        methods that change the network; a contextual method wraps it in a :class:`~amend.lm.ContextualLM` reading
        the model's memory."""
        return lm


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
