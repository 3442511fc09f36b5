"""What amend needs to know about one architecture: where its named components live."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArchSpec:
    """Module paths of the components editing methods use, for one ``config.model_type``.

    Paths are attribute paths relative to the causal-LM model (``layers``, ``final_norm``, ``unembedding``) or
    relative to one decoder layer (``mlp``, ``mlp_in_proj``, ``mlp_out_proj``, ``attn``, ``attn_out_proj``).

    Attributes:
        layers: The list of decoder layers; a layer's output is the residual stream ("block output").
        mlp: The MLP block of a layer (``None`` where the layer has no MLP submodule, as in OPT).
        mlp_in_proj: The MLP's input projection (up projection).
        mlp_out_proj: The MLP's output (down) projection: the module locate-then-edit methods rewrite. Its input
            is the *key* and its output the MLP's contribution to the residual stream.
        attn: The attention block of a layer.
        attn_out_proj: The attention output projection.
        final_norm: The norm applied before the unembedding.
        unembedding: The LM head.
        position_limit: Name of the config field holding the context length.
        mlp_flattens_tokens: The layer reshapes (batch, seq, width) to (batch·seq, width) around its MLP (OPT);
            hooks then restore the batch shape so that sites look the same on every architecture.
        text_models: For a vision-language model, the text models (``text_config.model_type``) whose module names
            the paths assume; empty for a text model. Sizes and the context length are read from the text config.
    """

    layers: str
    mlp: str | None
    mlp_in_proj: str
    mlp_out_proj: str
    attn: str
    attn_out_proj: str
    final_norm: str
    unembedding: str
    position_limit: str = "max_position_embeddings"
    mlp_flattens_tokens: bool = False
    text_models: tuple[str, ...] = ()
