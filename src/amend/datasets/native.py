"""amend's own request files: the objects :meth:`amend.EditRequest.to_dict` writes (``prompt``, ``subject``,
``target_new``, and optionally ``target_true``, ``rephrase``, ``locality``, ``portability``, ``generation``,
``group``, ``id``). Unknown keys are errors here: the format is amend's, so a stray key is a typo."""

from __future__ import annotations

from amend.datasets.fields import Record
from amend.requests import DocumentRequest, EditRequest


def parse(record: Record) -> list[EditRequest]:
    """The request a record describes (its ``id``, else its index)."""
    return [EditRequest.from_dict(record.data, record_id=record.index)]


def parse_documents(record: Record) -> list[DocumentRequest]:
    """The document request a record describes (the objects :meth:`amend.DocumentRequest.to_dict` writes, with or
    without ``"kind": "document"``)."""
    data = dict(record.data)
    kind = data.pop("kind", "document")
    if kind != "document":
        raise record.error("kind", f"must be 'document', not {kind!r}")
    try:
        return [DocumentRequest.from_dict(data)]
    except TypeError as error:  # an unknown or missing field
        raise record.error("(fields)", str(error)) from error
