"""The one interface every request type shares, and the names of the request kinds.

A request is an immutable record of one edit. Whatever its modality, it says what kind it is (so a dataset, a task
and a method can state which kinds they read, and the CLI can refuse a mismatch before any work), names itself in
errors and reports, and round-trips through JSON.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

EDIT, MULTIMODAL, DOCUMENT = "edit", "multimodal", "document"
REQUEST_KINDS = (EDIT, MULTIMODAL, DOCUMENT)


@runtime_checkable
class Request(Protocol):
    """What every request type provides.

    Attributes:
        kind: One of :data:`REQUEST_KINDS` (a class attribute).
        record_id: The id used in error messages and reports (the record's own id when it has one).
    """

    kind: ClassVar[str]

    @property
    def record_id(self) -> str | int: ...

    def to_dict(self) -> dict[str, Any]: ...


def kind_of(request: object) -> str:
    """The kind of ``request``, or a clear error for an object that is no request."""
    kind = getattr(type(request), "kind", None)
    if kind not in REQUEST_KINDS:
        raise TypeError(f"{type(request).__name__} is not an amend request (no kind among {REQUEST_KINDS})")
    return kind
