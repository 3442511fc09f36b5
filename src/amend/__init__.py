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

from amend.editing import edit  # noqa: E402
from amend.errors import (  # noqa: E402
    AmendError,
    ConfigError,
    EditFailed,
    PatchMismatch,
    RecordError,
    UnknownMethod,
    UnsupportedArchitecture,
)
from amend.patch import Patch  # noqa: E402
from amend.records import EditRequest, Probe  # noqa: E402

__all__ = [
    "AmendError",
    "ConfigError",
    "EditFailed",
    "EditRequest",
    "Patch",
    "PatchMismatch",
    "Probe",
    "RecordError",
    "UnknownMethod",
    "UnsupportedArchitecture",
    "__version__",
    "edit",
]
