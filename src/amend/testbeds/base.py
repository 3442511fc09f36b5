"""Testbeds: self-describing bundles of a model, its tokenizer, edit requests, the corpus its key statistics are
computed on, and the editing settings that suit it.

A testbed is how amend measures claims on real records offline. The CLI and the Python API use one the same way:
``amend evaluate --testbed world`` and ``amend.testbeds.load("world")``. A model loaded through a testbed carries
its name in ``config.amend_testbed``, so ``amend.Editor(model, tokenizer, method="memit")`` finds the testbed's
statistics corpus and editing defaults with no extra argument, and the core holds no testbed of its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from torch import nn

from amend.registry import TESTBEDS

MARKER = "amend_testbed"  # the model config key naming the testbed a model belongs to


class Testbed(ABC):
    """A model with everything needed to edit and evaluate it. Subclasses set ``name`` and implement the rest.

    Attributes:
        model: The causal LM (eval mode).
        tokenizer: Its tokenizer.
    """

    name: ClassVar[str]
    model: nn.Module
    tokenizer: Any

    @classmethod
    @abstractmethod
    def load(cls, path: str | Path | None = None) -> Testbed:
        """The testbed's model from ``path`` (default: the one amend ships), marked as this testbed's."""

    @classmethod
    @abstractmethod
    def for_model(cls, model: nn.Module, tokenizer: Any = None) -> Testbed:
        """The bundle around an already loaded model of this testbed."""

    @abstractmethod
    def requests(self, n: int, seed: int = 0) -> list[Any]:
        """``n`` edit requests drawn with ``seed``."""

    @abstractmethod
    def stats_corpus(self) -> Any:
        """The :class:`~amend.stats.Corpus` the model's key statistics are computed on (its 'Wikipedia')."""

    @classmethod
    def edit_defaults(cls) -> Mapping[str, Mapping[str, Any]]:
        """Method name -> config fields that suit this testbed's models (over the architecture's defaults)."""
        return {}


def load(name: str, path: str | Path | None = None) -> Testbed:
    """The testbed registered as ``name`` (:data:`amend.registry.TESTBEDS`), loaded from ``path`` or its default."""
    return TESTBEDS.get(name).load(path)


def testbed_class(model: nn.Module) -> type[Testbed] | None:
    """The class of the testbed ``model`` belongs to (its ``config.amend_testbed``), or None for any other model."""
    name = getattr(getattr(model, "config", None), MARKER, None)
    return TESTBEDS.get(str(name)) if name else None


def testbed_of(model: nn.Module, tokenizer: Any = None) -> Testbed | None:
    """The testbed bundle around ``model``, or None for a model of no testbed."""
    found = testbed_class(model)
    return None if found is None else found.for_model(model, tokenizer)


def model_defaults(model: nn.Module) -> Mapping[str, Mapping[str, Any]]:
    """The editing settings the testbed of ``model`` gives (none for a model of no testbed)."""
    found = testbed_class(model)
    return {} if found is None else found.edit_defaults()


def mark(model: nn.Module, name: str) -> nn.Module:
    """Record in ``model.config`` that it belongs to testbed ``name``."""
    setattr(model.config, MARKER, name)
    return model
