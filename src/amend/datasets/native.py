"""amend's own request files: the objects :meth:`amend.EditRequest.to_dict` writes (``prompt``, ``subject``,
``target_new``, and optionally ``target_true``, ``rephrase``, ``locality``, ``portability``, ``generation``,
``group``, ``id``). Unknown keys are errors here: the format is amend's, so a stray key is a typo."""

from __future__ import annotations

from amend.datasets.fields import Record
from amend.requests import EditRequest


def parse(record: Record) -> list[EditRequest]:
    """The request a record describes (its ``id``, else its index)."""
    return [EditRequest.from_dict(record.data, record_id=record.index)]
