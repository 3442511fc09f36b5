"""The vision-language backend of :class:`~amend.lm.LanguageModel`: the causal backend's batched scoring and
generation, with prompts that may carry an image.

Prompts are encoded by an :class:`~amend.prompting.ImageTextEncoder` (the model's processor and where the image goes
in the text), the same object the methods train through. Each row keeps its own image inputs, joined in row order
only when the model is called, so rows can be sorted by length and regrouped like text rows. A text prompt is
asked without an image (text locality); a batch never mixes the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from amend.lm.hf_causal import CausalLM
from amend.prompting import ImageTextEncoder, Prompt, VisualPrompt, encoder_of
from amend.tokens import Batch, ImageInputs


class VisionLM(CausalLM):
    """Scores (prompt, answer) pairs and generates from prompts, text or :class:`VisualPrompt`, with a
    vision-language model.

    Args:
        model: A vision-language model of the architecture table (LLaVA, Qwen2-VL, BLIP-2…).
        processor: Its processor, or an :class:`ImageTextEncoder` around it (which fixes the prompt template).
        template: The prompt template when ``processor`` is a bare processor (see :class:`ImageTextEncoder`).
    """

    def __init__(
        self,
        model: nn.Module,
        processor: Any,
        *,
        template: str | None = None,
        batch_size: int = 32,
        progress: bool = True,
    ):
        encoder = encoder_of(processor, template)
        if encoder is None:
            raise TypeError(f"VisionLM needs a vision-language processor, not {type(processor).__name__}")
        super().__init__(model, encoder.tokenizer, batch_size=batch_size, progress=progress)
        self.encoder: ImageTextEncoder = encoder

    def _encode_pairs(
        self, pairs: Sequence[tuple[Prompt, str]]
    ) -> tuple[list[tuple[list[int], list[int]]], list[ImageInputs] | None]:
        encoded, images = [], []
        for prompt, answer in pairs:
            prompt_encoded, answer_ids = self.encoder.pair(prompt, answer)
            encoded.append((list(prompt_encoded.ids), answer_ids))
            images.append(prompt_encoded.images)
        return encoded, images

    def _encode_prompts(self, prompts: Sequence[Prompt]) -> tuple[list[list[int]], list[ImageInputs] | None]:
        encoded = [self.encoder.encode(prompt) for prompt in prompts]
        return [list(item.ids) for item in encoded], [item.images for item in encoded]

    def _pad(self, rows: list[list[int]], images: list[ImageInputs] | None, side: str | None = None) -> Batch:
        return self.encoder.batch(rows, images or [{}] * len(rows), side or self.padding_side)


__all__ = ["VisionLM", "VisualPrompt"]
