"""Keys: the input of the edited MLP projection at the fact token, averaged over context templates (spec §0.3)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import PreTrainedTokenizerBase

from amend.architectures.anatomy import Anatomy, Component, Site
from amend.hooks import capture, stop_after
from amend.methods.locate.prompts import template_rows
from amend.methods.locate.templates import ContextTemplates
from amend.requests import EditRequest
from amend.tokens import pad_id, pad_right

ROWS_PER_FORWARD = 64


def subject_keys(
    anatomy: Anatomy,
    tokenizer: PreTrainedTokenizerBase,
    requests: Sequence[EditRequest],
    templates: ContextTemplates,
    layer: int,
    *,
    rule: str = "subject_last",
    average: str = "flat",
) -> torch.Tensor:
    """(n_requests, d_in) float32 keys at ``layer``, computed with the model as it is now.

    Args:
        average: ``"flat"`` — mean over all templates (ROME); ``"grouped"`` — mean within each template group,
            then over groups (the MEMIT family, where the bare prompt weighs one half).
    """
    flat = templates.flat()
    keys = _keys_per_row(anatomy, tokenizer, requests, flat, layer, rule).view(len(requests), len(flat), -1)
    return template_average(keys, templates, average)


def template_average(rows: torch.Tensor, templates: ContextTemplates, average: str) -> torch.Tensor:
    """(requests, templates, width) -> (requests, width): ``"flat"`` mean over all of ``templates.flat()``, or
    ``"grouped"`` mean within each template group, then over groups."""
    if average == "flat":
        return rows.mean(dim=1)
    if average == "grouped":
        groups = rows.split(templates.group_sizes(), dim=1)
        return torch.stack([group.mean(dim=1) for group in groups], dim=1).mean(dim=1)
    raise ValueError(f"average must be 'flat' or 'grouped', not {average!r}")


def bare_keys(
    anatomy: Anatomy, tokenizer: PreTrainedTokenizerBase, requests: Sequence[EditRequest], layer: int, *, rule: str
) -> torch.Tensor:
    """(n_requests, d_in) keys of the bare prompts only."""
    return _keys_per_row(anatomy, tokenizer, requests, ["{}"], layer, rule)


def bare_values(
    anatomy: Anatomy, tokenizer: PreTrainedTokenizerBase, requests: Sequence[EditRequest], site: Site, *, rule: str
) -> torch.Tensor:
    """(n_requests, width) activation at ``site`` at the fact token of each bare prompt (MEMIT's H)."""
    return values_per_row(anatomy, tokenizer, requests, ["{}"], site, rule)


def _keys_per_row(
    anatomy: Anatomy,
    tokenizer: PreTrainedTokenizerBase,
    requests: Sequence[EditRequest],
    templates: Sequence[str],
    layer: int,
    rule: str,
) -> torch.Tensor:
    return values_per_row(anatomy, tokenizer, requests, templates, Site(Component.MLP_KEY, layer), rule)


@torch.no_grad()
def values_per_row(
    anatomy: Anatomy,
    tokenizer: PreTrainedTokenizerBase,
    requests: Sequence[EditRequest],
    templates: Sequence[str],
    site: Site,
    rule: str,
) -> torch.Tensor:
    """(n_requests · n_templates, width) float32 activation at ``site`` at each row's fact token, request-major."""
    rows = template_rows(tokenizer, requests, templates, rule)
    device = next(anatomy.model.parameters()).device
    out = []
    for start in range(0, len(rows), ROWS_PER_FORWARD):
        chunk = rows[start : start + ROWS_PER_FORWARD]
        batch = pad_right([row.ids for row in chunk], pad_id(tokenizer)).to(device)
        positions = torch.tensor([row.lookup for row in chunk], device=device)
        with capture(anatomy, [site], positions) as records, stop_after(anatomy, site):
            anatomy.model(**batch.model_inputs())
        out.append(records[site].float())
    return torch.cat(out)
