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
from amend.prompting import Prompt
from amend.registry import TASKS
from amend.requests import EDIT, REQUEST_KINDS, kind_of


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
        top_k: A locality item also compared on the most likely tokens at each answer position (MMEdit's image
            locality, ``locality_topk``).
    """

    request: int
    metric: str
    kind: str
    prompt: Prompt
    answer: str
    foil: str | None
    aliases: tuple[str, ...] = ()
    top_k: bool = False


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

    def summarise(self, summary: dict[str, Any]) -> None:
        """Add the task's summaries across metrics (none by default) to a run's ``summary``, in place."""
        return None

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


def task_for(requests: Sequence[Any], name: str | None = None) -> Task:
    """The task ``name``, or (None) the first registered task that reads the requests' kind."""
    if name is not None:
        return task(name)
    kinds = {kind_of(request) for request in requests} or {EDIT}
    if len(kinds) > 1:
        raise ConfigError(f"requests of several kinds ({', '.join(sorted(kinds))}) cannot be evaluated together")
    readers = tasks_reading(kinds.pop())
    if not readers:
        raise ConfigError(f"no evaluation task reads {kind_of(requests[0])} requests")
    return task(readers[0])


def tasks_reading(kind: str) -> list[str]:
    """Names of the registered tasks that read requests of ``kind``."""
    if kind not in REQUEST_KINDS:
        raise ConfigError(f"unknown request kind {kind!r}; kinds are {REQUEST_KINDS}")
    return [name for name in TASKS if TASKS.get(name).reads == kind]
