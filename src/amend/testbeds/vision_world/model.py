"""The multimodal world's model: a tiny LLaVA (a CLIP vision tower, a projector, a Llama text model) with a
word-level tokenizer and a standard ``LlavaProcessor``, so it saves, loads and runs like any LLaVA checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transformers import (
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaImageProcessorPil,
    LlavaProcessor,
    PreTrainedTokenizerFast,
)

from amend.requests import fill
from amend.testbeds.vision_world.generator import ANIMALS, RELATIONS, VisionWorld
from amend.testbeds.world.tokenizer import EOS, PAD, UNK, word_level_tokenizer

IMAGE_TOKEN = "<image>"
TEMPLATE = "{image} {text}"  # how the world's prompts are written: the image, then the question


@dataclass(frozen=True)
class Architecture:
    """Sizes of the world's VLM.

    Attributes:
        image_size: Side of the square images, in pixels.
        patch_size: Side of a vision patch: (image_size / patch_size)² image tokens per image.
        vision_width: Width of the vision tower; ``vision_layers`` its depth.
        width: Width of the text model; ``layers`` its depth, ``heads`` its attention heads.
        mlp_width: Width of the text model's MLP: the dimension of the keys a codebook or ROME reads.
        context: The text model's context length.
    """

    image_size: int = 32
    patch_size: int = 8
    vision_width: int = 64
    vision_layers: int = 3
    width: int = 128
    layers: int = 4
    heads: int = 4
    mlp_width: int = 512
    context: int = 128

    @property
    def image_tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2


def lexicon(world: VisionWorld) -> list[str]:
    """Every text the world's training or evaluation can produce (the tokenizer knows exactly their words)."""
    texts: list[str] = list(ANIMALS)
    for relation in RELATIONS:
        texts += [*relation.questions, *relation.held_out, fill(relation.fact, "x")]
        texts += [fill(question, "x") for question in relation.text_questions]
    for country in world.countries:
        texts += list(country.facts.values())
    return texts


def build_tokenizer(world: VisionWorld, context: int = 128) -> PreTrainedTokenizerFast:
    return word_level_tokenizer(
        lexicon(world), special=(PAD, UNK, EOS, IMAGE_TOKEN), model_max_length=context, exclude={"▁x", "x"}
    )


def build_processor(tokenizer: PreTrainedTokenizerFast, architecture: Architecture) -> LlavaProcessor:
    size = architecture.image_size
    return LlavaProcessor(
        image_processor=LlavaImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size}),
        tokenizer=tokenizer,
        patch_size=architecture.patch_size,
        vision_feature_select_strategy="default",
        image_token=IMAGE_TOKEN,
        num_additional_image_tokens=1,  # CLIP's class token, which the "default" strategy drops again
    )


def build_model(tokenizer: PreTrainedTokenizerFast, architecture: Architecture) -> LlavaForConditionalGeneration:
    """A randomly initialised LLaVA of ``architecture`` without dropout (the goal is exact recall)."""
    ids: dict[str, Any] = dict(
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=architecture.vision_width,
            intermediate_size=architecture.vision_width * 4,
            num_hidden_layers=architecture.vision_layers,
            num_attention_heads=4,
            image_size=architecture.image_size,
            patch_size=architecture.patch_size,
            projection_dim=architecture.vision_width,
        ),
        text_config=LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=architecture.width,
            intermediate_size=architecture.mlp_width,
            num_hidden_layers=architecture.layers,
            num_attention_heads=architecture.heads,
            num_key_value_heads=architecture.heads,
            max_position_embeddings=architecture.context,
            tie_word_embeddings=False,
            **ids,
        ),
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        image_seq_length=architecture.image_tokens,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        **ids,
    )
    return LlavaForConditionalGeneration(config)
