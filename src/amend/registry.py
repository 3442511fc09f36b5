"""The one table of contents: every method, dataset format, evaluation task, testbed and adapter amend knows.

Each entry is a lazy ``"module:attribute"`` string, imported only when used, so ``import amend`` stays fast and a
listing never imports torch-heavy code. Adding a method, dataset, task or testbed is one line here (and the module
it names); ``docs/architecture.md`` has the checklist. An unknown name fails with the closest registered name and
the list, whatever the kind.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

from amend.errors import UnknownMethod, UnknownName

T = TypeVar("T")


class Registry(Generic[T]):
    """Names to lazily imported objects of one kind.

    Args:
        kind: What the entries are ("method", "dataset" ...), used in error messages.
        entries: Name -> ``"module:attribute"``.
        error: The error raised for an unknown name.
    """

    def __init__(self, kind: str, entries: Mapping[str, str], error: type[UnknownName] = UnknownName):
        self.kind = kind
        self._entries = dict(entries)
        self._error = error

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def target(self, name: str) -> str:
        """The ``"module:attribute"`` registered as ``name``."""
        try:
            return self._entries[name.lower()]
        except KeyError:
            raise self._error(unknown_message(self.kind, name, self._entries)) from None

    def get(self, name: str) -> T:
        """The object registered as ``name``, imported now."""
        return resolve(self.target(name))

    def items(self) -> list[tuple[str, str]]:
        return list(self._entries.items())


def unknown_message(kind: str, name: str, known: Mapping[str, Any] | list[str]) -> str:
    """``unknown <kind> 'x'. Did you mean 'y'? Available: ...`` — the message of every refused name."""
    names = list(known)
    close = difflib.get_close_matches(str(name).lower(), names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} Available: {', '.join(names)}"


def resolve(target: str) -> Any:
    """The object a ``"module:attribute"`` string names."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


METHODS: Registry[type] = Registry(
    "method",
    {
        "rome": "amend.methods.rome.method:Rome",
        "memit": "amend.methods.memit.method:Memit",
        "alphaedit": "amend.methods.alphaedit.method:AlphaEdit",
        "pmet": "amend.methods.pmet.method:Pmet",
        "emmet": "amend.methods.emmet.method:Emmet",
        "come": "amend.methods.come.method:Come",
        "grace": "amend.methods.grace.method:Grace",
        "balancedit": "amend.methods.balancedit.method:BalancEdit",
        "ft-l": "amend.methods.finetune.method:FineTuneL",
        "ft-m": "amend.methods.finetune.method:FineTuneM",
        "lora": "amend.methods.lora.method:Lora",
        "scr": "amend.methods.scr.method:Scr",
        "ike": "amend.methods.ike.method:Ike",
    },
    UnknownMethod,
)

DATASETS: Registry[Any] = Registry(
    "dataset",
    {
        "amend": "amend.datasets.formats:AMEND",
        "amend-documents": "amend.datasets.formats:AMEND_DOCUMENTS",
        "counterfact": "amend.datasets.formats:COUNTERFACT",
        "counterfact-easyedit": "amend.datasets.formats:COUNTERFACT_EASYEDIT",
        "zsre": "amend.datasets.formats:ZSRE",
        "mquake": "amend.datasets.formats:MQUAKE",
        "knowedit": "amend.datasets.formats:KNOWEDIT",
        "mmedit-e-vqa": "amend.datasets.formats:MMEDIT_E_VQA",
        "mmedit-e-ic": "amend.datasets.formats:MMEDIT_E_IC",
        "okedit": "amend.datasets.formats:OKEDIT",
        "docmedit": "amend.datasets.formats:DOCMEDIT",
    },
)

TASKS: Registry[Any] = Registry(
    "task",
    {
        "edit": "amend.evaluation.tasks.edit:EditTask",
        "multimodal": "amend.evaluation.tasks.multimodal:MultimodalTask",
    },
)

TESTBEDS: Registry[Any] = Registry(
    "testbed",
    {
        "world": "amend.testbeds.world.testbed:WorldTestbed",
        "smollm2": "amend.testbeds.smollm2.testbed:SmolLM2Testbed",
        "vision_world": "amend.testbeds.vision_world.testbed:VisionWorldTestbed",
    },
)

# Components a patch may attach at a site; a saved patch names one of these, never a class path of its own.
ADAPTERS: Registry[type] = Registry(
    "adapter",
    {
        "add_vector": "amend.changes.adapters:AddVector",
        "codebook": "amend.changes.codebook:Codebook",
        "lora": "amend.methods.lora.adapter:LoraAdapter",
    },
)
