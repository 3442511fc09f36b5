"""Requests to and from JSON, whatever their kind (a saved patch or run records the requests it edited)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from amend.errors import RecordError
from amend.requests.base import DOCUMENT, EDIT, MULTIMODAL
from amend.requests.document import DocumentRequest
from amend.requests.multimodal import MultimodalRequest
from amend.requests.text import EditRequest


def request_from_dict(record: Mapping[str, Any], record_id: str | int | None = None) -> Any:
    """The request a ``{"kind": ..., **to_dict()}`` record describes (a record without kind is a text edit)."""
    if not isinstance(record, Mapping):
        raise RecordError(record_id, "<record>", f"expected an object, got {type(record).__name__}")
    kind = record.get("kind", EDIT)
    if not isinstance(kind, str):
        raise RecordError(record_id, "kind", f"must be a string, got {type(kind).__name__}")
    fields = {key: value for key, value in record.items() if key != "kind"}
    if kind == EDIT:
        return EditRequest.from_dict(fields, record_id)
    builders = {MULTIMODAL: MultimodalRequest.from_dict, DOCUMENT: DocumentRequest.from_dict}
    if kind not in builders:
        raise RecordError(record_id, "kind", f"unknown request kind {kind!r}")
    try:
        return builders[kind](fields)
    except (TypeError, KeyError, ValueError, AttributeError) as err:
        raise RecordError(record_id, "<record>", f"not a {kind} request: {err}") from None
