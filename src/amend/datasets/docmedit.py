"""DocMEdit (Zeng et al. 2025): document-level edits, one article update per JSON line (``DocMEdit_1000.jsonl``).

Fields read: ``normalized_inputs`` and ``normalized_targets`` (the plain article before and after the update),
``evidence`` (a non-empty list of "Title SECTION sentence" passages) and ``title`` (a list holding the page title,
or a string; underscores become spaces, as in DocMEdit's loader); optionally ``inputs`` / ``targets`` (the article
as numbered sentences with a ``[CONTEXT]`` block, and the update as sentence references), ``r_evidence`` (retrieved
passages) and ``id`` (the page ids). Triples (``*_sro``) and other extra keys are ignored.
"""

from __future__ import annotations

from amend.datasets.fields import Record
from amend.requests import DocumentRequest


def parse(record: Record) -> list[DocumentRequest]:
    """One document request from a DocMEdit line."""
    titles = record.text_or_texts("title")
    request = DocumentRequest(
        title=titles[0].replace("_", " "),
        source=record.text("normalized_inputs"),
        target=record.text("normalized_targets"),
        evidence=record.texts("evidence", allow_empty_list=False),
        retrieved_evidence=record.texts("r_evidence", required=False),
        marked_source=record.optional_text("inputs"),
        marked_target=record.optional_text("targets"),
        page_ids=_page_ids(record),
        id=record.record_id,
    )
    return [request]


def _page_ids(record: Record) -> tuple[int, ...]:
    if not record.has("id"):
        return ()
    value = record.value("id")
    if not isinstance(value, list):
        return (record.integer("id"),)
    for i, page in enumerate(value):
        if isinstance(page, bool) or not isinstance(page, int):
            raise record.error(f"id[{i}]", f"must be an integer page id, got {type(page).__name__}")
    return tuple(value)
