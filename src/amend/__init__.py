"""amend: knowledge editing for language models, every method written once, one honest evaluation.

import amend
patch = amend.edit(model, tokenizer, [amend.EditRequest("{} is located in", "The Eiffel Tower", "Rome")])
patch.revert()
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("amend")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from amend.editing import Editor, edit
from amend.errors import (
    AmendError,
    ConfigError,
    DatasetError,
    EditFailed,
    PatchMismatch,
    RecordError,
    UnknownMethod,
    UnsupportedArchitecture,
)
from amend.evaluation import evaluate
from amend.patch import Patch
from amend.records import EditRequest, Probe, Rephrase

__all__ = [
    "AmendError",
    "ConfigError",
    "DatasetError",
    "EditFailed",
    "EditRequest",
    "Editor",
    "Patch",
    "PatchMismatch",
    "Probe",
    "RecordError",
    "Rephrase",
    "UnknownMethod",
    "UnsupportedArchitecture",
    "__version__",
    "edit",
    "evaluate",
]
