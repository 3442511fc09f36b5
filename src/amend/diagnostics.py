"""Where does a model look a fact up? The free-vector diagnostic.

For each layer and token position, a free vector added to the residual stream at that position is optimised to
make the model say each request's new target; the best probability it reaches says whether that (layer, position)
can carry the fact. Locate-then-edit methods assume a pretrained LM's answer can be steered from the subject's
last token in early-middle layers; a small model trained on one-fact sentences often cannot (it looks facts up at
the final token), and editing it at the subject then fails whatever the method.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from amend.architectures import Component, Site, anatomy
from amend.hooks import add_at_positions, token_index
from amend.lm import CausalLM
from amend.methods.base import frozen
from amend.methods.locate.target import TargetSettings, optimise_targets
from amend.requests import EditRequest


def free_vector_reach(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    requests: Sequence[EditRequest],
    layers: Sequence[int] | None = None,
    positions: Sequence[str] = ("subject_last", "last"),
    steps: int = 60,
    lr: float = 0.5,
) -> dict[tuple[int, str], float]:
    """Mean p̄(new target) a free residual vector reaches at each (layer, position rule), on the edit prompts."""
    body = anatomy(model)
    layers = range(body.num_layers) if layers is None else layers
    lm = CausalLM(model, tokenizer)
    reach = {}
    with frozen(model):
        for layer in layers:
            site = Site(Component.BLOCK_OUTPUT, layer)
            for rule in positions:
                settings = TargetSettings(
                    steps=steps,
                    lr=lr,
                    weight_decay=0.0,
                    kl_factor=0.0,
                    clamp_norm_factor=1e6,
                    early_stop_loss=0.01,
                    fact_token=rule,
                )
                delta = optimise_targets(body, tokenizer, requests, ["{}"], site, settings).delta
                reached = []
                for request, vector in zip(requests, delta, strict=True):  # one row each: the lm reorders rows
                    index = torch.tensor([token_index(tokenizer, request.prompt, request.subject, rule)])
                    with add_at_positions(body, site, index, vector[None]):
                        (scored,) = lm.score([(request.text, request.target_new)])
                    reached.append(math.exp(-scored.nll))
                reach[(layer, rule)] = sum(reached) / len(reached)
    return reach
