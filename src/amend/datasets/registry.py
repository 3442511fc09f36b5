"""The table of dataset formats: name -> how to read one record, imported only when used.

Adding a format is one module with a ``parse(record: Record, **options)`` function (see :mod:`amend.datasets.fields`)
and one row here.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from amend.errors import ConfigError

EDIT, MULTIMODAL, DOCUMENT = "edit", "multimodal", "document"


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

DATASETS: MappingProxyType[str, Format] = MappingProxyType(
    {
        "amend": Format("amend.datasets.native:parse", "amend's own request files (EditRequest.to_dict)", id_key="id"),
        "counterfact": Format(
            "amend.datasets.counterfact:parse_nested",
            "CounterFact, ROME/MEMIT nested format (counterfact.json, multi_counterfact.json)",
            id_key="case_id",
        ),
        "counterfact-easyedit": Format(
            "amend.datasets.counterfact:parse_flat",
            "CounterFact, EasyEdit flat format (counterfact-edit/train/val.json)",
            id_key="case_id",
        ),
        "zsre": Format(
            "amend.datasets.zsre:parse",
            "zsRE, MEND/ROME format (zsre_mend_eval.json); option target=answers (default) or alt",
            options=("target",),
        ),
        "mquake": Format("amend.datasets.mquake:parse", "MQuAKE cases, one request per edit", id_key="case_id"),
        "knowedit": Format("amend.datasets.knowedit:parse", "KnowEdit (WikiData_recent/counterfact, ZsRE, WikiBio)"),
        "mmedit-e-vqa": Format(
            "amend.datasets.mmedit:parse_vqa", "MMEdit E-VQA (vqa_eval.json)", MULTIMODAL, options=_IMAGE_ROOTS
        ),
        "mmedit-e-ic": Format(
            "amend.datasets.mmedit:parse_caption",
            "MMEdit E-IC (caption_eval_edit.json)",
            MULTIMODAL,
            options=_IMAGE_ROOTS,
        ),
        "okedit": Format(
            "amend.datasets.okedit:parse",
            "BalancEdit OKEDIT (VQA-API annotations + questions files)",
            MULTIMODAL,
            id_key="question_id",
            options=(*_IMAGE_ROOTS, "locality_root"),
            reader="amend.datasets.okedit:read",
        ),
        "docmedit": Format("amend.datasets.docmedit:parse", "DocMEdit document edits (JSON Lines)", DOCUMENT),
    }
)


def dataset_format(name: str) -> Format:
    """The format registered as ``name``; an unknown name fails with the closest match and the list."""
    try:
        return DATASETS[name.lower()]
    except KeyError:
        close = difflib.get_close_matches(name.lower(), DATASETS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown dataset {name!r}.{hint} Available: {', '.join(DATASETS)}") from None


def resolve(target: str) -> Any:
    """The object a ``"module:attribute"`` string names."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
