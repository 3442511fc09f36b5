"""Request types for the benchmarks that are not single text facts: image-grounded edits and document edits.

Text benchmarks load into :class:`amend.EditRequest`. MMEdit and OKEDIT edits are asked about an image, and
DocMEdit edits rewrite a whole article from evidence; their requests carry what those tasks need. Image paths are
resolved against a root the user gives, never opened here: the text of a benchmark loads without its images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from amend.records import Probe, Rephrase


@dataclass(frozen=True)
class ImageProbe:
    """A question about an image and the answer it should get (MMEdit's multimodal locality).

    Attributes:
        image: The image file.
        prompt: The question.
        answer: The expected answer.
        kind: Label reported separately.
    """

    image: Path
    prompt: str
    answer: str
    kind: str = ""


@dataclass(frozen=True)
class MultimodalRequest:
    """One image-grounded edit: asked ``prompt`` about ``image``, a vision-language model should answer
    ``target_new``.

    Attributes:
        prompt: The question (E-VQA, OKEDIT) or the caption prompt (E-IC), without any model-specific template
            (EasyEdit wraps questions as "Question: {} Short answer:").
        target_new: The new answer or caption.
        image: The image the edit is about.
        target_true: The true answer, when the data gives one (OKEDIT's first annotated answer).
        prediction: The unedited model's answer recorded in the data (MMEdit's ``pred``; not a gold answer).
        rephrase: Paraphrased prompts about the same image (text generality).
        image_rephrase: Other images for the same prompt (image generality). For OKEDIT each is a folder of
            generated images, all of which are meant.
        locality: Text-only probes whose answers must not change (MMEdit's NQ question).
        image_locality: Questions about unrelated images whose answers must not change.
        task: ``"vqa"`` or ``"caption"``.
        category: The data's own grouping (OKEDIT's ``counterfact_type``: "text based" or "image-text based").
        id: The record id used in error messages and reports.
    """

    prompt: str
    target_new: str
    image: Path
    target_true: str | None = None
    prediction: str | None = None
    rephrase: tuple[Rephrase, ...] = ()
    image_rephrase: tuple[Path, ...] = ()
    locality: tuple[Probe, ...] = ()
    image_locality: tuple[ImageProbe, ...] = ()
    task: str = "vqa"
    category: str = ""
    id: str | int | None = None


@dataclass(frozen=True)
class DocumentRequest:
    """One document-level edit (DocMEdit): rewrite ``source`` into ``target`` using the ``evidence``.

    Attributes:
        title: The Wikipedia page.
        source: The article before the update (``normalized_inputs``).
        target: The updated article (``normalized_targets``).
        evidence: The gold evidence passages ("Title SECTION sentence"), in order.
        retrieved_evidence: Retrieved passages (``r_evidence``), used by retrieval methods such as IKE.
        marked_source: The article as numbered sentences with a ``[CONTEXT]`` block of evidence (``inputs``).
        marked_target: The update written as references to kept sentences and new text (``targets``).
        page_ids: The Wikipedia page ids (``id``).
        id: The record id used in error messages and reports.
    """

    title: str
    source: str
    target: str
    evidence: tuple[str, ...]
    retrieved_evidence: tuple[str, ...] = ()
    marked_source: str | None = None
    marked_target: str | None = None
    page_ids: tuple[int, ...] = ()
    id: str | int | None = None


def resolve(root: str | Path | None, relative: str) -> Path:
    """``relative`` under ``root``, or as written when no root is given."""
    return Path(root) / relative if root is not None else Path(relative)
