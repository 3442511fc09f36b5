"""Image-grounded edit requests (MMEdit E-VQA / E-IC, OKEDIT): a question about an image and its new answer.

Image paths are resolved against a root the user gives, never opened here: a benchmark's text loads without its
images.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from amend.prompting import VisualPrompt
from amend.requests.base import MULTIMODAL
from amend.requests.text import Probe, Rephrase


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

    kind: ClassVar[str] = MULTIMODAL

    @property
    def record_id(self) -> str | int:
        return self.id if self.id is not None else f"{self.image} -> {self.target_new}"

    @property
    def asked(self) -> VisualPrompt:
        """The edit prompt as a model is asked it: the question about the image."""
        return VisualPrompt(self.prompt, self.image)

    def to_dict(self) -> dict[str, Any]:
        return _plain(asdict(self))

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> MultimodalRequest:
        """The request :meth:`to_dict` wrote."""
        values = {key: value for key, value in record.items() if key != "kind"}
        values["image"] = Path(values["image"])
        values["rephrase"] = tuple(Rephrase(**r) for r in values.get("rephrase", ()))
        values["image_rephrase"] = tuple(Path(p) for p in values.get("image_rephrase", ()))
        values["locality"] = tuple(_probe(p) for p in values.get("locality", ()))
        values["image_locality"] = tuple(
            ImageProbe(**{**p, "image": Path(p["image"])}) for p in values.get("image_locality", ())
        )
        return cls(**values)


def _probe(values: dict[str, Any]) -> Probe:
    return Probe(**{**values, "aliases": tuple(values.get("aliases", ()))})


def _plain(value: Any) -> Any:
    """JSON-ready: paths as strings, tuples as lists."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, Path) else value
