"""The errors amend raises.

Every error a user can cause derives from :class:`AmendError`, so ``except amend.AmendError`` catches all of
them; each message says what was wrong and, where it can, what to do instead.
"""

from __future__ import annotations


class AmendError(Exception):
    """Base class of every error amend raises on purpose."""


class ConfigError(AmendError, ValueError):
    """A method configuration or option that cannot work (unknown field, contradictory values)."""


class RecordError(AmendError, ValueError):
    """A bad edit request or dataset record; names the record and the field at fault."""

    def __init__(
        self, record_id: object, field: str, problem: str, *, source: str | None = None, index: int | None = None
    ):
        self.record_id = record_id
        self.field = field
        self.problem = problem
        self.source = source
        self.index = index
        where = f"{source}: " if source else ""
        which = repr(record_id) if index is None or index == record_id else f"{index} (id {record_id!r})"
        super().__init__(f"{where}record {which}, field '{field}': {problem}")

    def located(self, source: str | None, index: int | None = None) -> RecordError:
        """The same error, placed in a file (and at a record index, which file readers know and requests do not)."""
        return RecordError(
            self.record_id, self.field, self.problem, source=source, index=self.index if index is None else index
        )


class DatasetError(AmendError, ValueError):
    """A dataset file that cannot be read as records at all (not JSON, not a list, a missing companion file)."""


class UnsupportedArchitecture(AmendError, KeyError):
    """A model whose ``config.model_type`` is not in amend's architecture table."""

    def __str__(self) -> str:  # KeyError would otherwise print the message quoted
        return str(self.args[0])


class UnknownName(ConfigError, KeyError):
    """A name that no registry holds (a method, dataset, task, testbed or adapter); the message suggests the
    closest registered name."""

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownMethod(UnknownName):
    """A method name that is not registered."""


class EditFailed(AmendError, RuntimeError):
    """An edit that could not be completed; the model has been left exactly as it was."""


class PatchMismatch(AmendError, ValueError):
    """A patch applied to a model it was not computed for (other fingerprint, missing module, wrong shape)."""


class RunMismatch(AmendError, ValueError):
    """A saved run folder that cannot be loaded or resumed as asked: unreadable files, or other settings than the
    run was started with."""


class CacheError(AmendError, ValueError):
    """A statistics cache file that cannot be trusted (another model's or key's, truncated, altered, not finite),
    or statistics too broken to be written to one.

    The cache is shared between runs and users, so a bad file is refused rather than used or silently replaced;
    the message names the file and what is wrong, and deleting the file has the statistics recomputed.
    """
