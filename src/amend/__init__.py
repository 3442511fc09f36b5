"""amend: knowledge editing for language models, every method written once, one honest evaluation.

import amend
model, tokenizer, _ = amend.world.load()
patch = amend.edit(model, tokenizer, amend.world.edit_requests(1), method="memit")
patch.revert()
"""

from amend.changes import AddVector, ContextFacts, ModuleAdapter, Patch, WeightDelta
from amend.editing import Editor, edit
from amend.errors import (
    AmendError,
    ConfigError,
    DatasetError,
    EditFailed,
    PatchMismatch,
    RecordError,
    UnknownMethod,
    UnknownName,
    UnsupportedArchitecture,
)
from amend.evaluation import EvaluationSettings, evaluate
from amend.models import load_model
from amend.requests import DocumentRequest, EditRequest, MultimodalRequest, Probe, Rephrase
from amend.testbeds import world
from amend.version import __version__

__all__ = [
    "AddVector",
    "AmendError",
    "ConfigError",
    "ContextFacts",
    "DatasetError",
    "DocumentRequest",
    "EditFailed",
    "EditRequest",
    "Editor",
    "EvaluationSettings",
    "ModuleAdapter",
    "MultimodalRequest",
    "Patch",
    "PatchMismatch",
    "Probe",
    "RecordError",
    "Rephrase",
    "UnknownMethod",
    "UnknownName",
    "UnsupportedArchitecture",
    "WeightDelta",
    "__version__",
    "edit",
    "evaluate",
    "load_model",
    "world",
]
