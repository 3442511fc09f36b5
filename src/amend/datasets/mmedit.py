"""MMEdit (Cheng et al. 2023) E-VQA and E-IC: image-grounded edits of visual question answering and captioning.

Both subsets have the same eleven string fields: the question or caption prompt ``src``, the unedited model's
answer ``pred``, a paraphrase ``rephrase``, the new answer ``alt``, the image ``image`` and a generated image of the
same content ``image_rephrase``, an NQ text-locality pair ``loc`` / ``loc_ans``, and an OK-VQA multimodal-locality
triple ``m_loc`` (image) / ``m_loc_q`` / ``m_loc_a``. BalancEdit's augmented E-VQA adds
``rephrased_questions_train`` and ``locality_answer_train`` (used to train its editor; ignored here).

Records with an empty ``alt`` are skipped, as EasyEdit skips them. Image paths are joined to ``image_root``
(``image``, ``m_loc``) and ``rephrase_root`` (``image_rephrase``; default: ``image_root``), and kept relative when
no root is given; images are never opened. A path that is absolute or climbs out with ``..`` is an error in the
record (it would point outside the root).
"""

from __future__ import annotations

from pathlib import Path

from amend.datasets.fields import Record, Skip
from amend.requests import ImageProbe, MultimodalRequest, Probe, Rephrase


def parse_vqa(
    record: Record, image_root: str | Path | None = None, rephrase_root: str | Path | None = None
) -> list[MultimodalRequest] | Skip:
    """One request from an E-VQA record."""
    return _parse(record, "vqa", image_root, rephrase_root)


def parse_caption(
    record: Record, image_root: str | Path | None = None, rephrase_root: str | Path | None = None
) -> list[MultimodalRequest] | Skip:
    """One request from an E-IC record."""
    return _parse(record, "caption", image_root, rephrase_root)


def _parse(record: Record, task: str, image_root, rephrase_root) -> list[MultimodalRequest] | Skip:
    alt = record.text("alt", allow_empty=True)
    prediction = record.text("pred", allow_empty=True) if record.has("pred") else None
    rephrase_root = rephrase_root if rephrase_root is not None else image_root
    request = MultimodalRequest(
        prompt=record.text("src"),
        target_new=alt,
        image=record.file_path("image", image_root),
        prediction=prediction or None,
        rephrase=(Rephrase(record.text("rephrase"), "text"),),
        image_rephrase=(record.file_path("image_rephrase", rephrase_root),),
        locality=(Probe(record.text("loc"), record.text("loc_ans"), "text"),),
        image_locality=(
            ImageProbe(record.file_path("m_loc", image_root), record.text("m_loc_q"), record.text("m_loc_a"), "image"),
        ),
        task=task,
        id=record.record_id,
    )
    return [request] if alt.strip() else Skip("empty 'alt': EasyEdit leaves the record out")
