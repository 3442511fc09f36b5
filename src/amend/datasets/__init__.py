"""The standard knowledge-editing benchmarks, read from the files users already have.

::

    from amend import datasets
    requests = datasets.load("counterfact", "counterfact.json")
    requests = datasets.load("zsre", "zsre_mend_eval.json", target="alt")   # EasyEdit's convention
    report = datasets.read("mquake", "MQuAKE-CF-3k.json")                   # every bad record listed, none raised

Formats (:data:`DATASETS`): ``counterfact`` (ROME/MEMIT), ``counterfact-easyedit``, ``zsre``, ``mquake``,
``knowedit``, ``mmedit-e-vqa``, ``mmedit-e-ic``, ``okedit``, ``docmedit`` and ``amend``. Text formats give
:class:`amend.EditRequest`; the multimodal ones :class:`MultimodalRequest`; DocMEdit :class:`DocumentRequest`.
Each format module's docstring says how its fields map and which conventions it follows.
"""

from amend.datasets.formats import Format, dataset_format
from amend.datasets.loading import Loaded, Skipped, load, read
from amend.registry import DATASETS
from amend.requests import DOCUMENT, EDIT, MULTIMODAL, DocumentRequest, ImageProbe, MultimodalRequest

__all__ = [
    "DATASETS",
    "DOCUMENT",
    "EDIT",
    "MULTIMODAL",
    "DocumentRequest",
    "Format",
    "ImageProbe",
    "Loaded",
    "MultimodalRequest",
    "Skipped",
    "dataset_format",
    "load",
    "read",
]
