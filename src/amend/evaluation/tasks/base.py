"""What an evaluation task is: the request kind it reads, and the items it measures for each request.

A task turns requests into :class:`Item` s (one prompt to score each); the evaluator observes every item through
the language-model interface before and after the edit, and the task's metrics turn observations into values.
Tasks are registered in :data:`amend.registry.TASKS`; the CLI refuses a dataset only when no task reads its
request kind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from amend.errors import ConfigError
from amend.registry import TASKS
from amend.requests import REQUEST_KINDS, kind_of


@dataclass(frozen=True)
class Item:
    """One prompt to score for one request.

    Attributes:
        request: Index of the request in the evaluated list.
        metric: What the item measures (reliability, generalization, locality, portability ...).
        kind: The probe's label (reported separately when not empty).
        prompt: Full prompt text.
        answer: What the edited model should say (the new target; for locality, the unchanged answer).
        foil: The competitor in the probability protocol (the old target; for locality, the new target).
        aliases: Other answers that count as correct (a probe's aliases); each protocol takes the best of them.
    """

    request: int
    metric: str
    kind: str
    prompt: str
    answer: str
    foil: str | None
    aliases: tuple[str, ...] = ()


def items_by_request(items: Sequence[Item]) -> dict[int, list[int]]:
    """Request index -> the indices of its items (what is observed after that request is edited)."""
    by_request: dict[int, list[int]] = {}
    for index, item in enumerate(items):
        by_request.setdefault(item.request, []).append(index)
    return by_request


class Task(ABC):
    """An evaluation task. Subclasses set ``name``, ``reads`` (a request kind) and implement :meth:`items`."""

    name: ClassVar[str]
    reads: ClassVar[str]

    @abstractmethod
    def items(self, requests: Sequence[Any]) -> list[Item]:
        """Every item of every request, request-major."""

    def check(self, requests: Sequence[Any]) -> None:
        """Refuse requests of a kind this task does not read, naming the first one."""
        for request in requests:
            if kind_of(request) != self.reads:
                raise ConfigError(
                    f"task {self.name!r} reads {self.reads} requests, but request {request.record_id!r} is a "
                    f"{kind_of(request)} request"
                )


def task(name: str) -> Task:
    """The task registered as ``name``."""
    return TASKS.get(name)()


def tasks_reading(kind: str) -> list[str]:
    """Names of the registered tasks that read requests of ``kind``."""
    if kind not in REQUEST_KINDS:
        raise ConfigError(f"unknown request kind {kind!r}; kinds are {REQUEST_KINDS}")
    return [name for name in TASKS if TASKS.get(name).reads == kind]
