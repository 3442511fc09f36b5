"""Resources a locate-then-edit method gathers before writing: its context templates and key statistics."""

from __future__ import annotations

import json
from collections.abc import Sequence

import torch

from amend.fingerprint import fingerprint
from amend.methods.base import EditMethod
from amend.methods.locate.config import LocateConfig
from amend.methods.locate.solve import Factored, covariance
from amend.methods.locate.templates import (
    ContextTemplates,
    sample_template_ids,
    sampled_block_sizes,
    templates_from_ids,
)
from amend.stats import Corpus, SecondMoment
from amend.stats.cache import key_width
from amend.stats.given import check_width


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


def key_moments(method: EditMethod, config: LocateConfig, layers: Sequence[int]) -> dict[int, SecondMoment]:
    """The second moments of the MLP keys at each layer: those the caller gave (recorded in the method's log), the
    others from the cache or computed in one pass; read once per editor (its statistics and config are fixed)."""
    resources = method.resources
    kept = resources.factored.setdefault("moments", {})
    missing = [layer for layer in layers if layer not in kept and layer not in resources.statistics]
    if missing:
        kept.update(
            resources.stats.second_moments(
                method.anatomy,
                method.tokenizer,
                missing,
                stats_corpus(method),
                config.stats_settings(),
                progress=resources.progress,
                model_id=resources.base_fingerprint,
                present_id=resources.present_fingerprint,
            )
        )
    for layer in layers:
        given = resources.statistics.get(layer)
        if given is not None:
            if layer not in kept:
                kept[layer] = check_width(given, layer, key_width(method.anatomy, layer))
            method.log.setdefault("statistics_given", {})[str(layer)] = given.source
    return {layer: kept[layer] for layer in layers}


def factored_covariance(method: EditMethod, layer: int, cov: torch.Tensor, ridge: float = 0.0) -> Factored:
    """C (+ ridge·I) of ``layer`` factored once for the editor's lifetime: its statistics, and the config that
    chose them, are fixed for it."""
    key = ("covariance", layer, ridge)
    factored = method.resources.factored
    if key not in factored:
        eye = torch.eye(cov.shape[0], dtype=torch.float64, device=cov.device) if ridge else 0.0
        factored[key] = Factored(cov.double() + ridge * eye)
    return factored[key]


def key_covariances(method: EditMethod, config: LocateConfig, layers: Sequence[int]) -> dict[int, torch.Tensor]:
    """E[k kᵀ] (float64) of the MLP keys at each layer (:func:`key_moments`)."""
    moments = key_moments(method, config, layers)
    d_in = next(iter(moments.values())).total.shape[0]
    return {layer: covariance(moment, d_in) for layer, moment in moments.items()}
