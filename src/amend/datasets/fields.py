"""Typed access to the fields of one raw record, failing with errors that name the field.

Loaders read records only through :class:`Record`: a missing field, an empty string or a value of the wrong type
raises a :class:`~amend.errors.RecordError` naming the file, the record (index and id) and the field by its path
in the record (``requested_rewrite.target_new.str``, ``questions[2]``), never a ``KeyError`` or ``TypeError``.
Keys a loader does not ask for are ignored, so extra fields never get in the way.
"""

from __future__ import annotations

import ntpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
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

    def file_path(self, key: str, root: str | Path | None) -> Path:
        """A required path field, joined to ``root`` (see :meth:`under`)."""
        return self.under(root, self.text(key), key)

    def under(self, root: str | Path | None, relative: str, field: str) -> Path:
        """``relative`` under ``root``, refused as an error about ``field`` when it would leave the root.

        Paths come from the data file, the root from the user: an absolute path or one climbing out with ``..``
        would point a later reader (an evaluation opening the images) at any file on the machine.
        """
        problem = escape_problem(relative)
        if problem:
            raise self.error(field, problem)
        return resolve(root, relative)

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


def escape_problem(relative: str) -> str | None:
    """Why ``relative`` would name a file outside the root it is joined to, or None when it stays inside.

    Checked lexically for both POSIX and Windows spellings (a data file may be written on one and read on the
    other): no root or drive (``/etc/passwd``, ``C:\\x``, ``C:x``, ``\\\\server\\share``), and no ``..`` left once
    ``a/../b`` is folded (so ``val2014/../x.jpg`` is fine, ``../x.jpg`` is not). Files are never opened, so
    symbolic links inside the root are the root owner's business.
    """
    windows = PureWindowsPath(relative)
    if PurePosixPath(relative).is_absolute() or windows.drive or windows.root:
        return f"{relative!r} is absolute or names a drive; a record's paths must be relative to their root"
    if ".." in PureWindowsPath(ntpath.normpath(relative)).parts:
        return f"{relative!r} climbs out of the root it is joined to with '..'"
    return None


def resolve(root: str | Path | None, relative: str) -> Path:
    """``relative`` under ``root``, or as written when no root is given (image paths are never opened here).

    Unchecked: loaders go through :meth:`Record.under`, which refuses paths that would leave the root.
    """
    return Path(root) / relative if root is not None else Path(relative)
