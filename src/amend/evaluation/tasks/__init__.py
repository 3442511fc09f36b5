"""Evaluation tasks: what is measured for each request of a kind (:data:`amend.registry.TASKS`)."""

from amend.evaluation.tasks.base import Item, Task, items_by_request, task, task_for, tasks_reading
from amend.evaluation.tasks.edit import GENERALIZATION, LOCALITY, PORTABILITY, RELIABILITY, EditTask, items_of

__all__ = [
    "GENERALIZATION",
    "LOCALITY",
    "PORTABILITY",
    "RELIABILITY",
    "EditTask",
    "Item",
    "Task",
    "items_by_request",
    "items_of",
    "task",
    "task_for",
    "tasks_reading",
]
