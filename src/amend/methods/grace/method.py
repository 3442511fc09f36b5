"""GRACE's rule: place the fact's key by add / split / expand, then train the value the entry outputs."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import torch

from amend.architectures import Component, Site
from amend.architectures.weights import apply_map, dims
from amend.changes.codebook import Codebook
from amend.hooks import capture
from amend.methods.grace.config import GraceConfig
from amend.methods.memory.codebook_edit import CodebookEdit, Entry
from amend.requests import EDIT, MULTIMODAL, EditRequest, MultimodalRequest


class Grace(CodebookEdit):
    """GRACE: one value vector per entry, radius by the add / split / expand rules (exact label equality)."""

    name = "grace"
    config_cls = GraceConfig
    config: GraceConfig
    OUTPUT = "value"
    reads = (EDIT, MULTIMODAL)

    def place(self, book: Codebook, request: EditRequest | MultimodalRequest, batch: Sequence[EditRequest]) -> Entry:
        key, label = self.queries([request.asked])[0], self.label_of(request)
        placement = self.grace_rule(book, key, label, self.config.initial_radius)
        entry = Entry(key=key, label=label, log={"placement": placement.action, "radius": placement.radius})
        if placement.action == "expand":
            index = placement.nearest
            assert index is not None and placement.nearest_key is not None
            entry.updated = index
            entry.replaced = {"radii": torch.tensor([placement.radius]), "keys": placement.nearest_key[None].cpu()}
            entry.trainable = {"values": book.values[index].detach().clone().requires_grad_(True)}
            return entry
        if placement.action == "split":
            assert placement.nearest is not None and placement.nearest_radius is not None
            entry.updated = placement.nearest
            entry.replaced = {"radii": torch.tensor([placement.nearest_radius])}
        entry.rows = {"keys": key[None].cpu(), "radii": torch.tensor([placement.radius])}
        entry.trainable = {"values": self.initial_value(request).requires_grad_(True)}
        return entry

    def initial_value(self, request: EditRequest | MultimodalRequest) -> torch.Tensor:
        """Cold: U[0, 1) under a seed derived from the config's and the request's id; warm: the sub-layer's output
        at the edit prompt's last token."""
        out_features, _ = dims(self.sublayer)
        if self.config.value_init == "cold":
            seed = self.config.seed + zlib.crc32(str(request.record_id).encode())
            generator = torch.Generator().manual_seed(seed)
            return torch.rand(out_features, generator=generator).to(self.device)
        batch = self.prompt_batch([request.asked])
        site = Site(Component.MLP_KEY, self.config.layer)  # the input: the output may already be a codebook's
        with torch.no_grad(), capture(self.anatomy, [site]) as records:
            self.model.base_model(**batch.model_inputs())
        return apply_map(self.sublayer, records[site][0, -1:].float())[0]
