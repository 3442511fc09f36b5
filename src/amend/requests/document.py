"""Document-level edit requests (DocMEdit): rewrite a whole article from evidence."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from amend.requests.base import DOCUMENT
from amend.requests.text import EditRequest


@dataclass(frozen=True)
class DocumentRequest:
    """One document-level edit (DocMEdit): rewrite ``source`` into ``target`` using the ``evidence``.

    Attributes:
        title: The Wikipedia page.
        source: The article before the update (``normalized_inputs``).
        target: The updated article (``normalized_targets``).
        evidence: The gold evidence passages ("Title SECTION sentence"), in order.
        retrieved_evidence: Retrieved passages (``r_evidence``), used by retrieval methods such as IKE.
        marked_source: The article as numbered sentences with a ``[CONTEXT]`` block of evidence (``inputs``).
        marked_target: The update written as references to kept sentences and new text (``targets``).
        page_ids: The Wikipedia page ids (``id``).
        facts: The evidence as structured edit requests, when known (the document world's triples): what
            locate-then-edit methods such as MEMIT write as one batch. Without them a method is given one request
            per evidence passage (:func:`amend.evaluation.documents.fact_requests`).
        id: The record id used in error messages and reports.
    """

    title: str
    source: str
    target: str
    evidence: tuple[str, ...]
    retrieved_evidence: tuple[str, ...] = ()
    marked_source: str | None = None
    marked_target: str | None = None
    page_ids: tuple[int, ...] = ()
    facts: tuple[EditRequest, ...] = ()
    id: str | int | None = None

    kind: ClassVar[str] = DOCUMENT

    @property
    def record_id(self) -> str | int:
        return self.id if self.id is not None else self.title

    def to_dict(self) -> dict[str, Any]:
        record = {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}
        record["facts"] = [fact.to_dict() for fact in self.facts]
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> DocumentRequest:
        """The request :meth:`to_dict` wrote."""
        values = {key: value for key, value in record.items() if key != "kind"}
        for name in ("evidence", "retrieved_evidence", "page_ids"):
            values[name] = tuple(values.get(name, ()))
        values["facts"] = tuple(EditRequest.from_dict(fact) for fact in values.get("facts", ()))
        return cls(**values)
