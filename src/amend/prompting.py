"""Prompts (text, or a question about an image) and the one rule that turns them into token rows and image inputs.

A vision-language model reads a prompt as its processor makes it: the image placeholder expanded into as many image
tokens as the vision tower gives features, and the image tensors beside. Evaluation (``amend.lm.VisionLM``) and
every method that trains on prompts encode through a :class:`PromptEncoder` (:class:`ImageTextEncoder` for a
processor, :class:`TextEncoder` for a tokenizer), so an edit is trained on exactly the token rows evaluation scores.
Answers are split off by the text rule of :func:`amend.tokens.target_ids` (the joint text's tokens minus the
prompt's), applied before the image placeholder is expanded, which changes no answer token.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amend.errors import ConfigError
from amend.tokens import Batch, ImageInputs, pad, pad_id, target_ids

IMAGE = "{image}"
TEXT = "{text}"


@dataclass(frozen=True)
class VisualPrompt:
    """A prompt about an image (a path, or an image object the processor reads)."""

    text: str
    image: Path | Any


Prompt = str | VisualPrompt


def prompt_text(prompt: Prompt) -> str:
    return prompt.text if isinstance(prompt, VisualPrompt) else prompt


def open_image(image: Path | str | Any) -> Any:
    """An RGB PIL image: ``image`` opened when it is a path, converted when it is an image object."""
    from PIL import Image

    if isinstance(image, str | Path):
        try:
            with Image.open(image) as opened:
                return opened.convert("RGB")
        except (OSError, ValueError) as err:
            raise ConfigError(f"cannot read image {image}: {err}") from None
    return image.convert("RGB")


@dataclass(frozen=True)
class EncodedPrompt:
    """A prompt as the model reads it: token ids with the image tokens expanded, and the image inputs."""

    ids: tuple[int, ...]
    images: ImageInputs


class ImageTextEncoder:
    """A vision-language processor and where the image goes in a prompt.

    Args:
        processor: The model's processor (a tokenizer and an image processor, e.g. ``AutoProcessor``).
        template: How a prompt is written, with ``{image}`` (the processor's image placeholder) and ``{text}``
            (the question); a text-only prompt drops ``{image}``. None: the processor's chat template when it has
            one, else ``"{image} {text}"``. BLIP-2's processor puts the image tokens before the text itself, so
            its placeholder is empty.
    """

    def __init__(self, processor: Any, template: str | None = None):
        if not hasattr(processor, "image_processor") or not hasattr(processor, "tokenizer"):
            raise ConfigError(f"{type(processor).__name__} is not a vision-language processor")
        if template is not None and TEXT not in template:
            raise ConfigError(f"a prompt template needs a {TEXT} placeholder: {template!r}")
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.template = template
        self._encoded: dict[tuple[str, str], EncodedPrompt] = {}

    # ---- text --------------------------------------------------------------------------------------------------

    @property
    def placeholder(self) -> str:
        """What stands for the image in the text (empty where the processor adds the image tokens itself)."""
        if getattr(self.processor, "num_query_tokens", None):  # BLIP-2
            return ""
        return getattr(self.processor, "image_token", None) or ""

    def prompt_string(self, prompt: Prompt) -> str:
        """The prompt as text, image placeholder included, before the processor expands it."""
        visual = isinstance(prompt, VisualPrompt)
        text = prompt_text(prompt)
        if self.template is None and getattr(self.processor, "chat_template", None):
            content = [{"type": "image"}] if visual else []
            content.append({"type": "text", "text": text})
            return self.processor.apply_chat_template(
                [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
            )
        template = self.template or f"{IMAGE} {TEXT}"
        if not visual:  # the placeholder goes, with the space or line break after it
            return re.sub(r"\{image\}[ \n]?", "", template).replace(TEXT, text).strip()
        return template.replace(IMAGE, self.placeholder).replace(TEXT, text).strip()

    # ---- tokens ------------------------------------------------------------------------------------------------

    def encode(self, prompt: Prompt) -> EncodedPrompt:
        """Token ids and image inputs of ``prompt`` (cached for image paths, which evaluation reads repeatedly)."""
        key = None
        if not isinstance(prompt, VisualPrompt):
            key = (prompt, "")
        elif isinstance(prompt.image, str | Path):
            key = (prompt.text, str(prompt.image))
        if key is not None and key in self._encoded:
            return self._encoded[key]
        encoded = self._encode(prompt)
        if key is not None:
            self._encoded[key] = encoded
        return encoded

    def _encode(self, prompt: Prompt) -> EncodedPrompt:
        text = self.prompt_string(prompt)
        if not isinstance(prompt, VisualPrompt):
            ids = self.tokenizer(text)["input_ids"]
            return EncodedPrompt(tuple(ids), {})
        out = self.processor(text=[text], images=[open_image(prompt.image)], return_tensors="pt")
        images = {name: value for name, value in out.items() if name not in ("input_ids", "attention_mask")}
        return EncodedPrompt(tuple(out["input_ids"][0].tolist()), images)

    def image_tokens(self, size: int = 224) -> int:
        """The tokens an image of ``size`` pixels takes in a prompt, beyond the text's (room a context budget
        keeps free)."""
        text = "x"
        return len(self._encode(VisualPrompt(text, blank_image(size))).ids) - len(self._encode(text).ids)

    def pair(self, prompt: Prompt, answer: str) -> tuple[EncodedPrompt, list[int]]:
        """The encoded prompt and the answer's token ids after it."""
        return self.encode(prompt), target_ids(self.tokenizer, self.prompt_string(prompt), answer)[1]

    def batch(self, rows: Sequence[Sequence[int]], images: Sequence[ImageInputs], side: str = "right") -> Batch:
        """Token rows padded into a batch that carries each row's image inputs."""
        return pad(rows, pad_id(self.tokenizer), side, images)


class TextEncoder:
    """The :class:`ImageTextEncoder` interface for a text model's tokenizer: a prompt about an image is refused."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer

    def prompt_string(self, prompt: Prompt) -> str:
        if isinstance(prompt, VisualPrompt):
            raise ConfigError("a text model cannot read images: edit a vision-language model with its processor")
        return prompt

    def encode(self, prompt: Prompt) -> EncodedPrompt:
        return EncodedPrompt(tuple(self.tokenizer(self.prompt_string(prompt))["input_ids"]), {})

    def pair(self, prompt: Prompt, answer: str) -> tuple[EncodedPrompt, list[int]]:
        ids, answer_ids = target_ids(self.tokenizer, self.prompt_string(prompt), answer)
        return EncodedPrompt(tuple(ids), {}), answer_ids

    def batch(self, rows: Sequence[Sequence[int]], images: Sequence[ImageInputs], side: str = "right") -> Batch:
        return pad(rows, pad_id(self.tokenizer), side, images if any(images) else None)


PromptEncoder = ImageTextEncoder | TextEncoder


def prompt_encoder(tokenizer: Any, template: str | None = None) -> PromptEncoder:
    """The encoder of a tokenizer, a vision-language processor, or an encoder given as it is."""
    if isinstance(tokenizer, ImageTextEncoder | TextEncoder):
        return tokenizer
    return encoder_of(tokenizer, template) or TextEncoder(tokenizer)


def blank_image(size: int = 224, colour: tuple[int, int, int] = (0, 0, 0)) -> Any:
    """An image of one colour (BalancEdit's negative sample is the question asked about a black one)."""
    from PIL import Image

    return Image.new("RGB", (size, size), colour)


def encoder_of(processor_or_encoder: Any, template: str | None = None) -> ImageTextEncoder | None:
    """The :class:`ImageTextEncoder` of a processor (or the encoder itself); None for a plain tokenizer."""
    if isinstance(processor_or_encoder, ImageTextEncoder):
        return processor_or_encoder
    if hasattr(processor_or_encoder, "image_processor"):
        return ImageTextEncoder(processor_or_encoder, template)
    return None
