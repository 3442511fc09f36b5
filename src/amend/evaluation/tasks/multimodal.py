"""Knowledge editing of questions about images (MMEdit E-VQA / E-IC, OKEDIT, the multimodal world).

Items: reliability (the question about the edited image); generalization over rephrased questions about the same
image (kind ``text``: MMEdit's T-generality) and over other images of the same thing with the same question (kind
``image``: I-generality); locality on questions about other images (kind ``image``, also compared on the top-10
tokens at each answer position, as MMEdit and BalancEdit score it) and on text-only questions (kind ``text``). The
summary adds, per protocol, the harmonic mean of T-generality, I-generality and image locality (BalancEdit's HM;
under token accuracy its locality part is the top-10 agreement, as the paper's).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from amend.errors import RecordError
from amend.evaluation.metrics import PROTOCOLS, harmonic_mean
from amend.evaluation.tasks.base import Item, Task
from amend.evaluation.tasks.edit import GENERALIZATION, LOCALITY, RELIABILITY
from amend.prompting import VisualPrompt
from amend.requests import MULTIMODAL, MultimodalRequest

IMAGE, TEXT = "image", "text"
HARMONIC_MEAN = "harmonic_mean"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")


class MultimodalTask(Task):
    """Reliability, T- and I-generality, image and text locality, and their harmonic mean."""

    name = "multimodal"
    reads = MULTIMODAL

    def items(self, requests: Sequence[MultimodalRequest]) -> list[Item]:
        self.check(requests)
        items = []
        for i, request in enumerate(requests):
            new, old = request.target_new, request.target_true
            items.append(Item(i, RELIABILITY, "", request.asked, new, old))
            for rephrase in request.rephrase:
                items.append(Item(i, GENERALIZATION, TEXT, VisualPrompt(rephrase.prompt, request.image), new, old))
            for image in other_images(request, request.image_rephrase):
                items.append(Item(i, GENERALIZATION, IMAGE, VisualPrompt(request.prompt, image), new, old))
            for probe in request.image_locality:
                prompt = VisualPrompt(probe.prompt, probe.image)
                items.append(Item(i, LOCALITY, IMAGE, prompt, probe.answer, new, top_k=True))
            for probe in request.locality:
                foil = probe.foil or new
                items.append(Item(i, LOCALITY, TEXT, probe.prompt, probe.answer, foil, probe.aliases))
        return items

    def summarise(self, summary: dict[str, Any]) -> None:
        """Add the harmonic mean of T-generality, I-generality and image locality under each protocol that has
        all three (the parts stay in the summary beside it)."""
        for protocol in PROTOCOLS:
            locality = f"locality_topk/{IMAGE}" if protocol == "token_accuracy" else f"locality_agreement/{IMAGE}"
            if locality not in summary:
                locality = f"locality_agreement/{IMAGE}"
            parts = [
                summary.get(name, {}).get(protocol)
                for name in (f"{GENERALIZATION}/{TEXT}", f"{GENERALIZATION}/{IMAGE}", locality)
            ]
            if any(part is None for part in parts):
                continue
            summary.setdefault(HARMONIC_MEAN, {})[protocol] = {
                "mean": harmonic_mean([part["mean"] for part in parts]),
                "records": min(part["records"] for part in parts),
                "prompts": sum(part["prompts"] for part in parts),
                "of": [f"{GENERALIZATION}/{TEXT}", f"{GENERALIZATION}/{IMAGE}", locality],
            }


def other_images(request: MultimodalRequest, paths: Sequence[Path]) -> list[Path]:
    """The images of image generality: each path, or every image in it when it is a folder (OKEDIT's generated
    images of one question sit in a folder), in name order. The edited image itself is refused: generality over
    it would be reliability counted again."""
    images: list[Path] = []
    for path in paths:
        if Path(path).is_dir():
            images += sorted(p for p in Path(path).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            images.append(Path(path))
    edited = _same_file_key(request.image)
    for index, image in enumerate(images):
        if _same_file_key(image) == edited:
            raise RecordError(
                request.record_id, f"image_rephrase[{index}]", f"{image} is the edited image, not another one"
            )
    return images


def _same_file_key(path: Path) -> str:
    return str(Path(path).resolve())
