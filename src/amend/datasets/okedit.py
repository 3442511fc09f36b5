"""OKEDIT (BalancEdit, Guo et al. 2025): OK-VQA questions with GPT-4 counterfactual answers and generated images.

The data is a pair of VQA-API files: annotations (``mscoco_val2014_annotations*.json``: {"annotations": [...]}) and
questions (``OpenEnded_mscoco_val2014_questions*.json``: {"questions": [...]}), joined on ``question_id``. Give the
folder holding both, or the annotations file (the questions file is found next to it by the VQA naming rule).

Annotation fields read: ``question_id``, ``image_id``, ``answers`` [{``answer``}] (the first is the true answer),
``counterfact_answer`` (the edit target; records where it is "" are skipped, as BalancEdit skips them),
``locality_answer`` (the answer expected on the locality image) and optionally ``counterfact_type`` ("text based"
or "image-text based"). Question fields: ``question`` and ``rephrased_questions`` (the paraphrases).

Images, resolved against the roots given and never opened: the COCO image ``val2014/COCO_val2014_<image_id:012>.jpg``
under ``image_root``; the folder of generated images ``<question_id>`` under ``rephrase_root`` (image generality:
every image in it); the locality image ``<question_id>/0.png`` under ``locality_root``. The ids must be integers, so
these paths stay under their roots (checked all the same, as every image path of a record is). OKEDIT has no
text-locality probe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from amend.datasets.fields import Record, Skip
from amend.datasets.files import BadRecord, read_json
from amend.errors import DatasetError
from amend.requests import ImageProbe, MultimodalRequest, Rephrase

ANNOTATIONS, QUESTIONS = "mscoco_val2014_annotations", "OpenEnded_mscoco_val2014_questions"


def read(path: str | Path) -> list[Any]:
    """Annotation records, each with the fields of its question merged in.

    An annotation whose question id has several different entries in the questions file is a
    :class:`~amend.datasets.files.BadRecord`: taking any one of them would silently pair it with a question that may
    not be its own. Exact duplicates are one question.
    """
    annotations_file, questions_file = _files(Path(path))
    annotations = _entries(annotations_file, "annotations")
    questions: dict[int | None, list[dict[str, Any]]] = {}
    for question in _entries(questions_file, "questions"):
        if isinstance(question, dict):
            same = questions.setdefault(_key(question), [])
            if question not in same:
                same.append(question)
    merged: list[Any] = []
    for annotation in annotations:
        key = _key(annotation) if isinstance(annotation, dict) else None
        found = questions.get(key, []) if key is not None else []
        if len(found) > 1:
            problem = f"{key} has {len(found)} different entries in the questions file; which is meant is ambiguous"
            merged.append(BadRecord(key, "question_id", problem))
        else:
            merged.append({**found[0], **annotation} if found else annotation)
    return merged


def _key(entry: dict[str, Any]) -> int | None:
    """The question id an entry is joined on (None when it is not an integer: the record check names it)."""
    value = entry.get("question_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse(
    record: Record,
    image_root: str | Path | None = None,
    rephrase_root: str | Path | None = None,
    locality_root: str | Path | None = None,
) -> list[MultimodalRequest] | Skip:
    """One request from a merged OKEDIT record."""
    question_id, image_id = record.integer("question_id"), record.integer("image_id")
    if "question" not in record.data:
        raise record.error("question", "missing: no entry of the questions file has this question_id")
    question = record.text("question")
    answers = record.children("answers", allow_empty_list=False)
    target = record.text("counterfact_answer", allow_empty=True)
    request = MultimodalRequest(
        prompt=question,
        target_new=target,
        image=record.under(image_root, f"val2014/COCO_val2014_{image_id:012d}.jpg", "image_id"),
        target_true=answers[0].text("answer"),
        rephrase=tuple(Rephrase(q, "text") for q in record.texts("rephrased_questions")),
        image_rephrase=(record.under(rephrase_root, str(question_id), "question_id"),),
        image_locality=(
            ImageProbe(
                record.under(locality_root, f"{question_id}/0.png", "question_id"),
                question,
                record.text("locality_answer"),
                "image",
            ),
        ),
        task="vqa",
        category=record.optional_text("counterfact_type") or "",
        id=record.record_id,
    )
    return [request] if target.strip() else Skip("empty 'counterfact_answer': BalancEdit leaves the record out")


def _files(path: Path) -> tuple[Path, Path]:
    if path.is_dir():
        return _one(path, f"*{ANNOTATIONS}*.json"), _one(path, f"*{QUESTIONS}*.json")
    if ANNOTATIONS not in path.name:
        raise DatasetError(f"{path}: expected an OKEDIT folder or its '{ANNOTATIONS}*.json' annotations file")
    return path, path.with_name(path.name.replace(ANNOTATIONS, QUESTIONS))


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise DatasetError(f"{folder}: expected exactly one file matching {pattern!r}, found {names}")
    return found[0]


def _entries(path: Path, key: str) -> list[Any]:
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise DatasetError(f"{path}: expected a JSON object with a list under {key!r} (the VQA API layout)")
    return data[key]
