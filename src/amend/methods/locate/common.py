"""Resources a locate-then-edit method gathers before writing: its context templates and key statistics."""

from __future__ import annotations

import json
from collections.abc import Sequence

import torch

from amend.fingerprint import fingerprint
from amend.methods.base import EditMethod
from amend.methods.locate.config import LocateConfig
from amend.methods.locate.solve import covariance
from amend.methods.locate.templates import (
    ContextTemplates,
    sample_template_ids,
    sampled_block_sizes,
    templates_from_ids,
)
from amend.stats import Corpus


def context_templates(method: EditMethod, config: LocateConfig) -> ContextTemplates:
    """The configured templates, or templates sampled from the model with the configured seed: once per model and
    setting (the originals sample them once per run, unseeded), kept for the editor and cached on disk beside the
    statistics, keyed by the unedited model's fingerprint, so a later run (or a resumed one, whose model is already
    edited) uses the same templates without sampling again."""
    if config.context_templates is not None:
        return ContextTemplates.with_prefixes(config.context_templates)
    key = ("sampled", config.template_lengths, config.template_prompts, config.template_seed)
    cache = method.resources.templates
    if key not in cache:
        resources = method.resources
        setting = {
            "kind": "context_templates",
            "lengths": json.dumps(config.template_lengths),
            "prompts": json.dumps(config.template_prompts),
            "seed": str(config.template_seed),
        }
        ids = resources.stats.sampled_ids(
            resources.base_fingerprint or fingerprint(method.model),
            setting,
            lambda: sample_template_ids(
                method.model, method.tokenizer, config.template_lengths, config.template_prompts, config.template_seed
            ),
            vocab_size=method.model.get_input_embeddings().num_embeddings,
            rows=sampled_block_sizes(config.template_lengths, config.template_prompts),
            present_id=resources.present_fingerprint,
        )
        cache[key] = templates_from_ids(method.tokenizer, ids)
    return cache[key]


def stats_corpus(method: EditMethod) -> Corpus:
    """The corpus given to the edit, else the model's testbed's, else the config's ``stats_corpus``."""
    return method.resources.corpus_for(method.config)


def key_covariances(method: EditMethod, config: LocateConfig, layers: Sequence[int]) -> dict[int, torch.Tensor]:
    """E[k kᵀ] (float64) of the MLP keys at each layer, from the cache or computed in one pass."""
    resources = method.resources
    corpus = stats_corpus(method)
    moments = resources.stats.second_moments(
        method.anatomy,
        method.tokenizer,
        layers,
        corpus,
        config.stats_settings(),
        progress=resources.progress,
        model_id=resources.base_fingerprint,
        present_id=resources.present_fingerprint,
    )
    d_in = next(iter(moments.values())).total.shape[0]
    return {layer: covariance(moment, d_in) for layer, moment in moments.items()}
