"""Dataset formats: how to read one record of each benchmark, imported only when used.

Adding a format is one module with a ``parse(record: Record, **options)`` function (see :mod:`amend.datasets.fields`),
one :class:`Format` here and one row in :data:`amend.registry.DATASETS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from amend.registry import DATASETS
from amend.requests.base import DOCUMENT, EDIT, MULTIMODAL


@dataclass(frozen=True)
class Format:
    """How to read one dataset format.

    Attributes:
        parse: ``"module:function"`` turning one record into requests (or a skip).
        summary: One line for ``amend datasets``-style listings and errors.
        produces: The request type: ``edit`` (:class:`amend.EditRequest`), ``multimodal`` or ``document``.
        id_key: The field holding a record's own id, if the format has one.
        options: The keyword options ``parse`` accepts.
        reader: ``"module:function"`` reading the file into raw records, when not a JSON array or JSON Lines.
    """

    parse: str
    summary: str
    produces: str = EDIT
    id_key: str | None = None
    options: tuple[str, ...] = ()
    reader: str | None = None


_IMAGE_ROOTS = ("image_root", "rephrase_root")

AMEND = Format("amend.datasets.native:parse", "amend's own request files (EditRequest.to_dict)", id_key="id")
AMEND_DOCUMENTS = Format(
    "amend.datasets.native:parse_documents", "amend's own document files (DocumentRequest.to_dict)", DOCUMENT, "id"
)
COUNTERFACT = Format(
    "amend.datasets.counterfact:parse_nested",
    "CounterFact, ROME/MEMIT nested format (counterfact.json, multi_counterfact.json)",
    id_key="case_id",
)
COUNTERFACT_EASYEDIT = Format(
    "amend.datasets.counterfact:parse_flat",
    "CounterFact, EasyEdit flat format (counterfact-edit/train/val.json); option generation=none (default) or "
    "prompt (the edit prompt as the generation prompt, EasyEdit's fluency)",
    id_key="case_id",
    options=("generation",),
)
ZSRE = Format(
    "amend.datasets.zsre:parse",
    "zsRE, MEND/ROME format (zsre_mend_eval.json); option target=answers (default) or alt",
    options=("target",),
)
MQUAKE = Format("amend.datasets.mquake:parse", "MQuAKE cases, one request per edit", id_key="case_id")
KNOWEDIT = Format("amend.datasets.knowedit:parse", "KnowEdit (WikiData_recent/counterfact, ZsRE, WikiBio)")
MMEDIT_E_VQA = Format(
    "amend.datasets.mmedit:parse_vqa", "MMEdit E-VQA (vqa_eval.json)", MULTIMODAL, options=_IMAGE_ROOTS
)
MMEDIT_E_IC = Format(
    "amend.datasets.mmedit:parse_caption", "MMEdit E-IC (caption_eval_edit.json)", MULTIMODAL, options=_IMAGE_ROOTS
)
OKEDIT = Format(
    "amend.datasets.okedit:parse",
    "BalancEdit OKEDIT (VQA-API annotations + questions files)",
    MULTIMODAL,
    id_key="question_id",
    options=(*_IMAGE_ROOTS, "locality_root"),
    reader="amend.datasets.okedit:read",
)
DOCMEDIT = Format("amend.datasets.docmedit:parse", "DocMEdit document edits (JSON Lines)", DOCUMENT)


def dataset_format(name: str) -> Format:
    """The format registered as ``name`` in :data:`amend.registry.DATASETS`; an unknown name fails with the
    closest match and the list."""
    return DATASETS.get(name)
