"""Tiny vision-language models of every VLM row of the architecture table, built from configs with their
processors (PIL image processors: no torchvision), for tests."""

from __future__ import annotations

import copy
import functools

import torch
from PIL import Image
from transformers import (
    Blip2Config,
    Blip2ForConditionalGeneration,
    Blip2Processor,
    Blip2QFormerConfig,
    Blip2VisionConfig,
    BlipImageProcessorPil,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaImageProcessorPil,
    LlavaProcessor,
    OPTConfig,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
    Qwen2VLImageProcessorPil,
    Qwen2VLProcessor,
)

from amend.testbeds.world.tokenizer import EOS, PAD, UNK, word_level_tokenizer

VLM_TYPES = ("llava", "qwen2_vl", "blip-2")
QWEN_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
WORDS = [
    "What colour is this flag? red blue green white black yellow",
    "Which country does this flag belong to? Velmora Quendar Tarsk",
    "Describe the picture. The capital of Velmora is Kelmar.",
]
IMAGE_SIZE, PATCH = 28, 7


class Qwen2VLImageOnlyProcessor(Qwen2VLProcessor):
    """Qwen2-VL's processor without its video processor, which needs torchvision (the signature decides which
    parts a processor has)."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        super().__init__(image_processor=image_processor, tokenizer=tokenizer, chat_template=chat_template, **kwargs)


def image(seed: int = 0, size: tuple[int, int] = (40, 30)) -> Image.Image:
    """A random RGB image (width, height), reproducible by ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    pixels = (torch.rand(size[1], size[0], 3, generator=generator) * 255).to(torch.uint8).numpy()
    return Image.fromarray(pixels, "RGB")


def _tokenizer(specials: tuple[str, ...]):
    return word_level_tokenizer(WORDS, special=(PAD, UNK, EOS, *specials))


def _ids(tokenizer) -> dict:
    """Special token ids, and a wide initialisation (as the tiny text models of the tests), so that an edit can
    move the logits far from uniform."""
    return dict(
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        initializer_range=0.2,
    )


@functools.cache
def _built(model_type: str, seed: int):
    torch.manual_seed(seed)
    if model_type == "llava":
        tokenizer = _tokenizer(("<image>",))
        processor = LlavaProcessor(
            image_processor=LlavaImageProcessorPil(
                size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
            ),
            tokenizer=tokenizer,
            patch_size=PATCH,
            vision_feature_select_strategy="default",
            image_token="<image>",
            num_additional_image_tokens=1,  # CLIP's class token, which the "default" strategy drops again
        )
        config = LlavaConfig(
            vision_config=CLIPVisionConfig(
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
                image_size=IMAGE_SIZE,
                patch_size=PATCH,
                projection_dim=32,
            ),
            text_config=LlamaConfig(
                vocab_size=len(tokenizer),
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=3,
                num_attention_heads=4,
                num_key_value_heads=2,
                max_position_embeddings=128,
                **_ids(tokenizer),
            ),
            image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
            image_seq_length=(IMAGE_SIZE // PATCH) ** 2,
            vision_feature_select_strategy="default",
            vision_feature_layer=-1,
        )
        model = LlavaForConditionalGeneration(config)
    elif model_type == "qwen2_vl":
        tokenizer = _tokenizer(QWEN_TOKENS)
        ids = {token: tokenizer.convert_tokens_to_ids(token) for token in QWEN_TOKENS}
        processor = Qwen2VLImageOnlyProcessor(
            image_processor=Qwen2VLImageProcessorPil(
                size={"shortest_edge": 28 * 28, "longest_edge": 4 * 28 * 28},
                patch_size=14,
                merge_size=2,
                temporal_patch_size=2,
            ),
            tokenizer=tokenizer,
        )
        config = Qwen2VLConfig(
            vision_config=dict(
                depth=2,
                embed_dim=32,
                num_heads=2,
                mlp_ratio=2,
                hidden_size=32,
                patch_size=14,
                spatial_merge_size=2,
                temporal_patch_size=2,
                in_channels=3,
            ),
            text_config=dict(
                vocab_size=len(tokenizer),
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=3,
                num_attention_heads=4,
                num_key_value_heads=2,
                max_position_embeddings=128,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [1, 1, 2]},
                **_ids(tokenizer),
            ),
            image_token_id=ids["<|image_pad|>"],
            video_token_id=ids["<|video_pad|>"],
            vision_start_token_id=ids["<|vision_start|>"],
            vision_end_token_id=ids["<|vision_end|>"],
        )
        model = Qwen2VLForConditionalGeneration(config)
    elif model_type == "blip-2":
        tokenizer = _tokenizer(("<image>",))
        processor = Blip2Processor(
            image_processor=BlipImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}),
            tokenizer=tokenizer,
            num_query_tokens=4,
        )
        config = Blip2Config(
            vision_config=Blip2VisionConfig(
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
                image_size=IMAGE_SIZE,
                patch_size=PATCH,
            ),
            qformer_config=Blip2QFormerConfig(
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
                cross_attention_frequency=1,
                vocab_size=len(tokenizer),
            ),
            text_config=OPTConfig(
                vocab_size=len(tokenizer),
                hidden_size=32,
                ffn_dim=64,
                word_embed_proj_dim=32,
                num_hidden_layers=3,
                num_attention_heads=4,
                max_position_embeddings=128,
                **_ids(tokenizer),
            ),
            num_query_tokens=4,
            image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        )
        model = Blip2ForConditionalGeneration(config)
    else:
        raise ValueError(model_type)
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}, model.config, processor


def tiny_vlm(model_type: str, seed: int = 0):
    """(model in eval mode, processor): a new model (its own config and weights) of the tiny VLM of ``model_type``."""
    state, config, processor = _built(model_type, seed)
    model = MODEL_CLASSES[model_type](copy.deepcopy(config))
    model.load_state_dict(state)
    return model.eval(), processor


MODEL_CLASSES = {
    "llava": LlavaForConditionalGeneration,
    "qwen2_vl": Qwen2VLForConditionalGeneration,
    "blip-2": Blip2ForConditionalGeneration,
}
