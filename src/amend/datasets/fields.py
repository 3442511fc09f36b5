"""Typed access to the fields of one raw record, failing with errors that name the field.

Loaders read records only through :class:`Record`: a missing field, an empty string or a value of the wrong type
raises a :class:`~amend.errors.RecordError` naming the file, the record (index and id) and the field by its path
in the record (``requested_rewrite.target_new.str``, ``questions[2]``), never a ``KeyError`` or ``TypeError``.
Keys a loader does not ask for are ignored, so extra fields never get in the way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from amend.errors import RecordError
from amend.requests import PLACEHOLDER

T = TypeVar("T")
_FIELD_HEAD = re.compile(r"[^.\[]+")


@dataclass(frozen=True)
class Skip:
    """A valid record that the format's convention leaves out (EasyEdit skips an empty edit target)."""

    reason: str


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


class Record:
    """One raw record (or an object nested in it) with the place it came from.

    Args:
        data: The parsed JSON value.
        index: Position of the record in its file.
        source: The file, for error messages.
        record_id: The record's own id when its format has one (CounterFact's ``case_id``).
        path: Where this object sits inside the record (``"requested_rewrite."``); empty for the record itself.
    """

    def __init__(self, data: Any, index: int, source: str, record_id: str | int | None = None, path: str = ""):
        self.data = data
        self.index = index
        self.source = source
        self.id = record_id
        self.path = path
        if not isinstance(data, Mapping):
            name = path.rstrip(".") or "<record>"
            raise self.error_at(name, f"must be an object, got {_kind(data)}")

    @classmethod
    def top(cls, data: Any, index: int, source: str, id_key: str | None = None) -> Record:
        """The record at ``index`` of ``source``, its id read from ``id_key`` when the format has one."""
        record = cls(data, index, source)
        if id_key and record.has(id_key):  # a null id (as to_dict writes) is no id
            record.id = record.identifier(id_key)
        return record

    @property
    def record_id(self) -> str | int:
        """The id requests from this record carry: the record's own id, else its index."""
        return self.id if self.id is not None else self.index

    def error(self, field: str, problem: str) -> RecordError:
        """An error about ``field`` of this object."""
        return self.error_at(self.path + field, problem)

    def error_at(self, field: str, problem: str) -> RecordError:
        return RecordError(self.record_id, field, problem, source=self.source, index=self.index)

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def value(self, key: str) -> Any:
        """The value of a required field, of any type."""
        if key not in self.data:
            raise self.error(key, "missing")
        return self.data[key]

    def text(self, key: str, *, allow_empty: bool = False) -> str:
        """A required string field (not empty or blank unless ``allow_empty``)."""
        return self._text(key, self.value(key), allow_empty)

    def optional_text(self, key: str) -> str | None:
        """A string field that may be absent or null (``None`` then)."""
        return self.text(key) if self.has(key) else None

    def texts(self, key: str, *, required: bool = True, allow_empty_list: bool = True) -> tuple[str, ...]:
        """A list of non-empty strings; an absent optional field is an empty tuple."""
        if not required and not self.has(key):
            return ()
        values = self.value(key)
        if not isinstance(values, list):
            raise self.error(key, f"must be a list of strings, got {_kind(values)}")
        if not values and not allow_empty_list:
            raise self.error(key, "is an empty list")
        return tuple(self._text(f"{key}[{i}]", value, False) for i, value in enumerate(values))

    def text_or_texts(self, key: str) -> tuple[str, ...]:
        """A required field holding one string or a non-empty list of strings."""
        value = self.value(key)
        return (self.text(key),) if isinstance(value, str) else self.texts(key, allow_empty_list=False)

    def integer(self, key: str) -> int:
        value = self.value(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, got {_kind(value)}")
        return value

    def identifier(self, key: str) -> str | int:
        """An id field: an integer or a non-empty string."""
        value = self.value(key)
        return value if isinstance(value, str) and value.strip() else self.integer(key)

    def child(self, key: str) -> Record:
        """A required object-valued field."""
        return Record(self.value(key), self.index, self.source, self.id, f"{self.path}{key}.")

    def children(self, key: str, *, allow_empty_list: bool = True) -> list[Record]:
        """A required list of objects."""
        values = self.value(key)
        if not isinstance(values, list):
            raise self.error(key, f"must be a list of objects, got {_kind(values)}")
        if not values and not allow_empty_list:
            raise self.error(key, "is an empty list")
        return [Record(v, self.index, self.source, self.id, f"{self.path}{key}[{i}].") for i, v in enumerate(values)]

    def template(self, prompt_key: str, subject_key: str) -> tuple[str, str]:
        """(prompt with ``{}`` where the subject is, subject) from a prompt that holds ``{}`` or the subject itself.

        The first occurrence of the subject is the edited one when it occurs several times (as ROME's zsRE
        loader, which marks them all, would edit the first).
        """
        prompt, subject = self.text(prompt_key), self.text(subject_key)
        placeholders = prompt.count(PLACEHOLDER)
        if placeholders > 1:
            raise self.error(prompt_key, f"has {placeholders} '{{}}' placeholders; one at most is allowed")
        if placeholders == 0 and subject not in prompt:
            raise self.error(subject_key, f"{subject!r} does not occur in '{self.path}{prompt_key}' ({prompt!r})")
        return (prompt if placeholders else prompt.replace(subject, PLACEHOLDER, 1)), subject

    def build(self, factory: Callable[..., T], names: Mapping[str, str], **fields: Any) -> T:
        """``factory(**fields)``, its own validation errors renamed to the record's fields by ``names``."""
        try:
            return factory(**fields)
        except RecordError as err:
            head = _FIELD_HEAD.match(err.field)
            name = names.get(head.group(0), err.field) if head else err.field
            raise self.error(name, err.problem) from None

    def _text(self, key: str, value: Any, allow_empty: bool) -> str:
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, got {_kind(value)}")
        if not allow_empty and not value.strip():
            raise self.error(key, "is empty")
        return value


def resolve(root: str | Path | None, relative: str) -> Path:
    """``relative`` under ``root``, or as written when no root is given (image paths are never opened here)."""
    return Path(root) / relative if root is not None else Path(relative)
