"""The one table of architecture knowledge, keyed by ``config.model_type``.

To support a new architecture, add one :class:`ArchSpec` row here (module paths can be read off
``print(model)``) and add its tiny config to ``tests/conftest.py``; nothing else in amend names module paths.
"""

from __future__ import annotations

from dataclasses import replace

from amend.architectures.spec import ArchSpec
from amend.errors import UnsupportedArchitecture

_GPT2 = ArchSpec(
    layers="transformer.h",
    mlp="mlp",
    mlp_in_proj="mlp.c_fc",
    mlp_out_proj="mlp.c_proj",
    attn="attn",
    attn_out_proj="attn.c_proj",
    final_norm="transformer.ln_f",
    unembedding="lm_head",
    position_limit="n_positions",
)

_GPTJ = ArchSpec(
    layers="transformer.h",
    mlp="mlp",
    mlp_in_proj="mlp.fc_in",
    mlp_out_proj="mlp.fc_out",
    attn="attn",
    attn_out_proj="attn.out_proj",
    final_norm="transformer.ln_f",
    unembedding="lm_head",
    position_limit="n_positions",
)

_GPT_NEOX = ArchSpec(
    layers="gpt_neox.layers",
    mlp="mlp",
    mlp_in_proj="mlp.dense_h_to_4h",
    mlp_out_proj="mlp.dense_4h_to_h",
    attn="attention",
    attn_out_proj="attention.dense",
    final_norm="gpt_neox.final_layer_norm",
    unembedding="lm_head",  # "embed_out" before transformers 5
)

# Llama and the families that kept its module names.
_LLAMA_LIKE = ArchSpec(
    layers="model.layers",
    mlp="mlp",
    mlp_in_proj="mlp.up_proj",
    mlp_out_proj="mlp.down_proj",
    attn="self_attn",
    attn_out_proj="self_attn.o_proj",
    final_norm="model.norm",
    unembedding="lm_head",
)

_PHI3 = ArchSpec(
    layers="model.layers",
    mlp="mlp",
    mlp_in_proj="mlp.gate_up_proj",
    mlp_out_proj="mlp.down_proj",
    attn="self_attn",
    attn_out_proj="self_attn.o_proj",
    final_norm="model.norm",
    unembedding="lm_head",
)

# OPT has no MLP submodule: fc1/fc2 sit directly in the decoder layer.
_OPT = ArchSpec(
    layers="model.decoder.layers",
    mlp=None,
    mlp_in_proj="fc1",
    mlp_out_proj="fc2",
    attn="self_attn",
    attn_out_proj="self_attn.out_proj",
    final_norm="model.decoder.final_layer_norm",
    unembedding="lm_head",
    mlp_flattens_tokens=True,
)

# Vision-language models: the text model's components, where the VLM keeps its text model. The vision tower and
# projector are never edited; sites are the text model's layers.
_LLAVA = replace(
    _LLAMA_LIKE,
    layers="model.language_model.layers",
    final_norm="model.language_model.norm",
    text_models=("llama", "mistral", "qwen2"),
)
_QWEN2_VL = replace(_LLAVA, text_models=("qwen2_vl_text",))
_BLIP2 = replace(
    _OPT,
    layers="language_model.model.decoder.layers",
    final_norm="language_model.model.decoder.final_layer_norm",
    unembedding="language_model.lm_head",
    text_models=("opt",),
)

ARCHITECTURES: dict[str, ArchSpec] = {
    "gpt2": _GPT2,
    "gptj": _GPTJ,
    "gpt_neox": _GPT_NEOX,
    "llama": _LLAMA_LIKE,
    "mistral": _LLAMA_LIKE,
    "qwen2": _LLAMA_LIKE,
    "qwen3": _LLAMA_LIKE,
    "gemma": _LLAMA_LIKE,
    "gemma2": _LLAMA_LIKE,
    "gemma3_text": _LLAMA_LIKE,
    "phi3": _PHI3,
    "opt": _OPT,
    "llava": _LLAVA,
    "qwen2_vl": _QWEN2_VL,
    "blip-2": _BLIP2,
}


def spec_for(model_type: str) -> ArchSpec:
    """The :class:`ArchSpec` of ``model_type``, or an error that says how to add one."""
    try:
        return ARCHITECTURES[model_type]
    except KeyError:
        supported = ", ".join(sorted(ARCHITECTURES))
        raise UnsupportedArchitecture(
            f"model_type {model_type!r} is not in amend's architecture table (supported: {supported}). "
            "To add it, add an ArchSpec row to amend/architectures/table.py naming its layers, MLP and "
            "attention projections, final norm and unembedding (read them off `print(model)`)."
        ) from None
