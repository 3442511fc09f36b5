"""BalancEdit's rule: GRACE's placement, a per-fact radius from a positive and a negative sample, and a trained
copy of the wrapped sub-layer as the entry's output."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch

from amend.architectures.weights import bias, weight_out_in
from amend.changes.codebook import Codebook
from amend.methods.balancedit.config import BalancEditConfig
from amend.methods.memory.codebook_edit import CodebookEdit, Entry
from amend.methods.memory.placement import balanced_radius
from amend.prompting import Prompt, VisualPrompt, blank_image, prompt_text
from amend.requests import EDIT, MULTIMODAL, EditRequest, MultimodalRequest, fill

# The generated positive puts the edit prompt after this lead-in; the generated negative asks the same question
# about another subject of the batch, or about this placeholder when there is none.
POSITIVE_LEAD = "Here is a question. "
OTHER_SUBJECT = "something else"


def samples(request: EditRequest, batch: Sequence[EditRequest], source: str) -> tuple[str, str]:
    """(positive, negative) prompts of a fact: the request's first rephrase and first locality prompt when
    ``source`` is ``request`` and it has them; otherwise the edit prompt after a fixed lead-in, and the edit prompt
    about another subject (the next request's in the batch with a different subject, else "something else")."""
    positive = POSITIVE_LEAD + request.text
    if source == "request" and request.rephrase:
        positive = request.rephrase[0].prompt
    if source == "request" and request.locality:
        return positive, request.locality[0].prompt
    others = [r.subject for r in batch if r.subject != request.subject]
    if others:
        index = [r.subject for r in batch].index(request.subject)
        following = [r.subject for r in (*batch[index + 1 :], *batch[:index]) if r.subject != request.subject]
        return positive, fill(request.prompt, following[0])
    return positive, fill(request.prompt, OTHER_SUBJECT)


def visual_samples(request: MultimodalRequest, source: str, negative_image: str) -> tuple[Prompt, Prompt]:
    """(positive, negative) of a question about an image: its first rephrase about the same image (else the question
    after a fixed lead-in), and the same question about a blank image or the first image-locality probe's image."""
    positive = VisualPrompt(POSITIVE_LEAD + request.prompt, request.image)
    if source == "request" and request.rephrase:
        positive = VisualPrompt(request.rephrase[0].prompt, request.image)
    if negative_image == "locality" and request.image_locality:
        return positive, VisualPrompt(request.prompt, request.image_locality[0].image)
    colour = (255, 255, 255) if negative_image == "white" else (0, 0, 0)
    return positive, VisualPrompt(request.prompt, blank_image(colour=colour))


class BalancEdit(CodebookEdit):
    """BalancEdit: per-fact radius between the positive and the negative sample; layer-copy outputs."""

    name = "balancedit"
    config_cls = BalancEditConfig
    config: BalancEditConfig
    OUTPUT = "layer"
    reads = (EDIT, MULTIMODAL)

    @classmethod
    def scored(cls, requests: Sequence[Any], config: BalancEditConfig) -> list[Any]:
        """Without the samples the radius was calibrated on: the first rephrase, and the first locality probe (of
        a text request) or image-locality probe (when it gave the negative image)."""
        out = []
        for request in requests:
            if isinstance(request, MultimodalRequest):
                skip_image = config.negative_image == "locality"
                rephrase = request.rephrase[1:] if config.samples == "request" else request.rephrase
                image_locality = request.image_locality[1:] if skip_image else request.image_locality
                out.append(replace(request, rephrase=rephrase, image_locality=image_locality))
            elif config.samples == "request":
                out.append(replace(request, rephrase=request.rephrase[1:], locality=request.locality[1:]))
            else:
                out.append(request)
        return out

    def place(self, book: Codebook, request: EditRequest | MultimodalRequest, batch: Sequence[Any]) -> Entry:
        if isinstance(request, MultimodalRequest):
            positive, negative = visual_samples(request, self.config.samples, self.config.negative_image)
        else:
            positive, negative = samples(request, batch, self.config.samples)
        key, key_pos, key_neg = self.queries([request.asked, positive, negative])
        label = self.label_of(request)
        d_pos, d_neg = self.distances_to(key, torch.stack([key_pos, key_neg])).tolist()
        balanced = balanced_radius(d_pos, d_neg, self.config.balance)
        placement = self.grace_rule(book, key, label, self.config.initial_radius or balanced.radius)
        if placement.action == "expand":  # the boundary is measured from the entry that grows
            centre = placement.nearest_key.to(key.device)
            d_pos, d_neg = self.distances_to(centre, torch.stack([key_pos, key_neg])).tolist()
            balanced = balanced_radius(d_pos, d_neg, self.config.balance)
        entry = Entry(key=key, label=label)
        entry.log = {
            "placement": placement.action,
            "positive": prompt_text(positive),
            "negative": prompt_text(negative),
            "d_pos": d_pos,
            "d_neg": d_neg,
            "conflict": balanced.conflict,
        }
        if placement.action == "expand":
            index = placement.nearest
            wanted = max(placement.radius, balanced.radius)  # reach the new query and its balanced boundary
            radius = max(float(book.radii[index]), min(wanted, d_neg * (1 - 1e-6)))
            entry.updated = index
            entry.replaced = {"radii": torch.tensor([radius]), "keys": placement.nearest_key[None].cpu()}
            entry.log["radius"] = radius
            entry.trainable = self.trainable(book, index)
            return entry
        radius = balanced.radius
        if placement.action == "split":
            radius = min(radius, placement.radius)
            entry.updated = placement.nearest
            entry.replaced = {"radii": torch.tensor([placement.nearest_radius])}
        entry.rows = {"keys": key[None].cpu(), "radii": torch.tensor([radius])}
        entry.log["radius"] = radius
        entry.trainable = self.trainable(book, None)
        return entry

    def trainable(self, book: Codebook, index: int | None) -> dict[str, torch.Tensor]:
        """The layer copy trained for this fact: the shared one, an existing entry's (expansion) or a fresh copy of
        the wrapped sub-layer (a new entry)."""
        if self.config.sharing == "shared":
            tensors = {"shared_weight": book.shared_weight, "shared_bias": book.shared_bias}
        elif index is not None:
            tensors = {"entry_weight": book.entry_weight[index], "entry_bias": book.entry_bias[index]}
        else:
            layer_bias = bias(self.sublayer)
            out_features = weight_out_in(self.sublayer).shape[0]
            start = torch.zeros(out_features) if layer_bias is None else layer_bias
            tensors = {"entry_weight": weight_out_in(self.sublayer), "entry_bias": start}
        return {name: t.detach().float().clone().to(self.device).requires_grad_(True) for name, t in tensors.items()}
