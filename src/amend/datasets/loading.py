"""Reading a whole dataset file: every record checked, the bad ones collected rather than stopping at the first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amend.datasets.fields import Record, Skip
from amend.datasets.files import BadLine, BadRecord, read_records
from amend.datasets.formats import dataset_format
from amend.errors import ConfigError, RecordError
from amend.registry import resolve


@dataclass(frozen=True)
class Skipped:
    """A valid record the format's convention leaves out."""

    index: int
    record_id: str | int
    reason: str


@dataclass(frozen=True)
class Loaded:
    """Everything read from one file.

    Attributes:
        dataset: The format name.
        source: The file.
        records: How many records the file holds.
        requests: The requests of the valid records, in file order (a MQuAKE case gives several).
        skipped: Valid records left out by the format's convention.
        invalid: One error per bad record, naming the record and the field.
    """

    dataset: str
    source: str
    records: int
    requests: tuple[Any, ...]
    skipped: tuple[Skipped, ...] = ()
    invalid: tuple[RecordError, ...] = ()


def read(name: str, path: str | Path, **options: Any) -> Loaded:
    """Read every record of ``path`` as dataset ``name``, collecting bad records instead of raising.

    File-level problems (not JSON, a missing file) still raise :class:`~amend.errors.DatasetError`.
    """
    form = dataset_format(name)
    unknown = sorted(set(options) - set(form.options))
    if unknown:
        accepted = ", ".join(form.options) or "none"
        raise ConfigError(f"dataset {name!r} takes no option {unknown[0]!r} (its options: {accepted})")
    parse = resolve(form.parse)
    raw = resolve(form.reader)(path) if form.reader else read_records(path)
    source = str(path)
    requests: list[Any] = []
    skipped, invalid = [], []
    for index, data in enumerate(raw):
        try:
            record = _record(data, index, source, form.id_key)
            out = parse(record, **options)
        except RecordError as err:
            invalid.append(err.located(source, index))
            continue
        if isinstance(out, Skip):
            skipped.append(Skipped(index, record.record_id, out.reason))
        else:
            requests.extend(out)
    return Loaded(name, source, len(raw), tuple(requests), tuple(skipped), tuple(invalid))


def load(name: str, path: str | Path, *, skip_invalid: bool = False, **options: Any) -> list[Any]:
    """The requests of dataset file ``path`` in format ``name`` (see :data:`amend.datasets.DATASETS`).

    Raises the first bad record's :class:`~amend.errors.RecordError` unless ``skip_invalid`` (then bad records are
    left out; :func:`read` says which). Records the format's convention skips are always left out.
    """
    loaded = read(name, path, **options)
    if loaded.invalid and not skip_invalid:
        raise loaded.invalid[0]
    return list(loaded.requests)


def _record(data: Any, index: int, source: str, id_key: str | None) -> Record:
    if isinstance(data, BadLine):
        raise RecordError(index, "<json>", data.problem, source=source, index=index)
    if isinstance(data, BadRecord):
        record_id = index if data.record_id is None else data.record_id
        raise RecordError(record_id, data.field, data.problem, source=source, index=index)
    return Record.top(data, index, source, id_key)
