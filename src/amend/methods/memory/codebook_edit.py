"""The part of a codebook edit every codebook method shares: the codebook (created by the first edit), the queries
of prompts, and training an entry's output against the model's own loss through the gate it will have.

Facts are written one at a time, in order (GRACE streams its edits; a batch is a stream of its requests), each
as one :class:`~amend.changes.codebook.CodebookWrite`. An entry's key and its samples' queries are read at the
sub-layer's *input*, which the codebook (it replaces the *output*) cannot change, so the gate of the new entry is
known before its output is trained, and training runs the model through exactly that gate: a candidate codebook
(the attached one with the new fact placed) replaces the sub-layer's output, recomputed from its input.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from amend.architectures import Component, Site
from amend.architectures.weights import apply_map, bias, dims, weight_out_in
from amend.changes import Journal, ModuleAdapter, attached
from amend.changes.codebook import Codebook, CodebookWrite, distances, pool
from amend.forward import logits_at
from amend.hooks import capture, wrap_site
from amend.methods.base import EditMethod
from amend.methods.locate.suffix import SuffixForward, logits_close
from amend.methods.memory.config import CodebookConfig
from amend.methods.memory.placement import Placement, grace_placement
from amend.prompting import Prompt
from amend.requests import EditRequest, MultimodalRequest
from amend.tokens import Batch


@dataclass
class Entry:
    """A fact about to be written: its key and label, and the changes to the candidate codebook.

    Attributes:
        key: The query of the edit prompt at its last token (d_in,).
        label: The target token ids.
        rows: New rows of the appended entry (empty for an expansion).
        updated: Index of an existing entry rewritten (split, expansion), or None.
        replaced: Its new rows.
        trainable: The tensors optimised, by codebook tensor name: a new entry's output row, an existing entry's
            (expansion), or the shared layer copy. Filled in by the method, written after training.
        log: What the method reports about this fact (placement, distances).
    """

    key: torch.Tensor
    label: tuple[int, ...]
    rows: dict[str, torch.Tensor] = field(default_factory=dict)
    updated: int | None = None
    replaced: dict[str, torch.Tensor] = field(default_factory=dict)
    trainable: dict[str, torch.Tensor] = field(default_factory=dict)
    log: dict[str, object] = field(default_factory=dict)


class CodebookEdit(EditMethod):
    """Base of the codebook methods: :meth:`place` decides the entry of one fact; the rest is shared."""

    config: CodebookConfig
    OUTPUT: str = "value"

    @property
    def site(self) -> Site:
        return Site(Component.MLP_OUTPUT, self.config.layer)

    @property
    def label(self) -> str:
        """The adapter label: one codebook per method and layer, shared by every edit of a sequence."""
        return f"{self.name}@{self.config.layer}"

    @property
    def sublayer(self) -> nn.Module:
        return self.anatomy.module(self.anatomy.mlp_out_proj_name(self.config.layer))

    def new_codebook(self) -> Codebook:
        out_features, in_features = dims(self.sublayer)
        layer_bias = bias(self.sublayer)
        return Codebook(
            in_features,
            out_features,
            distance=self.config.distance,
            pooling=self.config.pooling,
            replacement=self.config.replacement,
            output=self.OUTPUT,
            sharing=getattr(self.config, "sharing", "shared"),
            weight=weight_out_in(self.sublayer) if self.OUTPUT == "layer" else None,
            bias=layer_bias,
        )

    def codebook(self, journal: Journal) -> Codebook:
        """The attached codebook, attached now (empty) by the first edit of a sequence."""
        adapter = attached(self.model).adapters.get(self.label)
        if adapter is None:
            adapter = ModuleAdapter(self.site, self.new_codebook(), self.label)
            journal.add(adapter)
        if not isinstance(adapter.component, Codebook):
            raise TypeError(f"the adapter {self.label!r} is not a codebook")
        return adapter.component

    def write(self, requests: Sequence[EditRequest | MultimodalRequest], journal: Journal) -> None:
        facts = []
        for request in requests:
            book = self.codebook(journal)
            entry = self.place(book, request, requests)
            losses = self.train(book, entry, request)
            journal.add(self.change(book, entry))
            facts.append({"id": request.record_id, **entry.log, "nll": [losses[0], losses[-1]], "steps": len(losses)})
        self.log["facts"] = facts
        self.log["entries"] = len(self.codebook(journal))

    @abstractmethod
    def place(self, book: Codebook, request: EditRequest, batch: Sequence[EditRequest]) -> Entry:
        """Decide where the fact goes: the new entry's rows or the existing entry rewritten, and what trains."""

    # ---- shared pieces ------------------------------------------------------------------------------------------

    def prompt_batch(self, prompts: Sequence[Prompt]) -> Batch:
        """The prompts (text, or questions about images) as one right-padded batch on the model's device."""
        encoded = [self.encoder.encode(prompt) for prompt in prompts]
        return self.encoder.batch([list(e.ids) for e in encoded], [e.images for e in encoded]).to(self.device)

    def queries(self, prompts: Sequence[Prompt]) -> torch.Tensor:
        """The query of each prompt at its last token (n, d_in), pooled as the codebook pools."""
        batch = self.prompt_batch(prompts)
        with torch.no_grad(), capture(self.anatomy, [Site(Component.MLP_KEY, self.config.layer)]) as records:
            self.model.base_model(**batch.model_inputs())
        inputs = records[Site(Component.MLP_KEY, self.config.layer)].float()
        pooled = pool(inputs, batch.attention_mask, self.config.pooling)
        last = batch.lengths.to(self.device) - 1
        return pooled[torch.arange(len(prompts), device=self.device), last]

    def label_of(self, request: EditRequest | MultimodalRequest) -> tuple[int, ...]:
        """An entry's label: the target token ids after the edit prompt (compared as whole sequences)."""
        return tuple(self.encoder.pair(request.asked, request.target_new)[1])

    def grace_rule(self, book: Codebook, key: torch.Tensor, label: tuple[int, ...], initial_radius: float) -> Placement:
        """GRACE's add / split / expand for ``key`` against the attached codebook."""
        return grace_placement(
            key,
            label,
            book.keys,
            book.radii,
            book.labels(),
            self.distances_to(key, book.keys),
            initial_radius=initial_radius,
            expansion=self.config.expansion,
        )

    def distances_to(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """(n,) distances of one query to ``keys``."""
        if keys.shape[0] == 0:
            return torch.zeros(0)
        return distances(query[None], keys, self.config.distance)[0]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def candidate_gate(self, book: Codebook, entry: Entry) -> Codebook:
        """The gate of ``book`` with the fact placed: its keys and radii, in a codebook without outputs. The
        entries' outputs are read from ``book`` and the fact's from its trainable tensors, never copied, so a
        training step costs the same with ten entries or ten thousand layer copies."""
        gate = Codebook(
            book.in_features, 0, distance=book.distance, pooling=book.pooling, replacement=book.replacement
        ).to(self.device)
        tensors = {"keys": book.keys, "radii": book.radii}
        if set(entry.replaced) - set(tensors):
            raise ValueError(f"a placement may rewrite only an entry's key and radius, not {sorted(entry.replaced)}")
        for name, row in entry.replaced.items():
            tensor = tensors[name].clone()
            tensor[entry.updated] = row[0].to(tensor)
            tensors[name] = tensor
        if entry.rows:
            tensors = {name: torch.cat([t, entry.rows[name].to(t)]) for name, t in tensors.items()}
        gate.keys, gate.radii = tensors["keys"], tensors["radii"]
        return gate

    def candidate_output(
        self, book: Codebook, entry: Entry, inputs: torch.Tensor, chosen: torch.Tensor
    ) -> torch.Tensor:
        """Outputs (m, out) of the chosen entries (m,) with the fact placed: the fact's row (or the shared copy)
        through the trainable tensors, every other entry as ``book`` has it."""
        trained = book.output_of(inputs, entry.trainable)
        if book.shared_tensors():
            return trained
        own = chosen == (len(book) if entry.rows else entry.updated)
        if bool(own.all()):
            return trained
        others = book.entry_output(inputs, chosen.clamp(max=len(book) - 1)).detach()
        return torch.where(own[:, None], trained, others)

    def train(self, book: Codebook, entry: Entry, request: EditRequest | MultimodalRequest) -> list[float]:
        """Optimise ``entry.trainable`` with Adam on the mean NLL of the target tokens after the edit prompt, the
        model running through the candidate codebook's gate; returns the loss at every step run."""
        encoded, target = self.encoder.pair(request.asked, request.target_new)
        prompt = list(encoded.ids)
        batch = self.encoder.batch([prompt + target[:-1]], [encoded.images]).to(self.device)
        cols = torch.arange(len(prompt) - 1, len(prompt) - 1 + len(target))
        labels = torch.tensor(target, device=self.device)
        gate = self.candidate_gate(book, entry)
        gate.mask = batch.attention_mask
        sublayer = self.sublayer

        def through_candidate(inputs: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
            fires, chosen = gate.gate(inputs)
            replaced = apply_map(sublayer, inputs.float())
            replaced[fires] = self.candidate_output(book, entry, inputs[fires].float(), chosen[fires])
            return replaced.to(output.dtype)

        parameters = list(entry.trainable.values())
        optimiser = torch.optim.Adam(parameters, lr=self.config.lr, eps=self.config.adam_eps)
        losses: list[float] = []
        rows = torch.zeros(len(target), dtype=torch.long)

        def forward() -> torch.Tensor:
            return logits_at(self.model, batch, rows, cols)

        with wrap_site(self.anatomy, self.site, through_candidate):
            for step in range(self.config.steps):
                logits = forward()
                if step == 0 and self.config.partial_forward and batch.images is None:
                    forward, entry.log["partial_forward"] = self.from_site(batch, rows, cols, logits.detach(), forward)
                loss = torch.nn.functional.cross_entropy(logits, labels)
                losses.append(float(loss.detach()))
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"the loss of request {request.record_id!r} is not finite")
                if loss.item() < self.config.stop_nll:
                    break
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        for name, tensor in entry.trainable.items():
            entry.trainable[name] = tensor.detach().clone()
        return losses

    def from_site(self, batch: Batch, rows: torch.Tensor, cols: torch.Tensor, full: torch.Tensor, fallback):
        """A forward that runs only the layers from the codebook's on (nothing below it depends on the entry), if it
        gives the full forward's logits ``full``; else ``fallback``. Returns it and why."""
        try:
            suffix = SuffixForward.prepare(self.anatomy, batch, torch.zeros(1, dtype=torch.long), self.config.layer)
            row = torch.zeros(1, dtype=torch.long)
            with torch.no_grad():
                check = suffix.logits_at(row, rows, cols)
        except Exception as err:  # an architecture whose forward cannot resume at a layer
            return fallback, f"{type(err).__name__}: {err}"
        if check.shape != full.shape or not logits_close(check, full):
            return fallback, "the partial forward's logits differ from the full forward's"
        return (lambda: suffix.logits_at(row, rows, cols)), "checked"

    def change(self, book: Codebook, entry: Entry) -> CodebookWrite:
        """The write of a trained fact into the attached codebook."""
        rows = dict(entry.rows)
        replaced = dict(entry.replaced)
        shared = {}
        for name, tensor in entry.trainable.items():
            if name in book.shared_tensors():
                shared[name] = tensor
            elif entry.rows:
                rows[name] = tensor[None]
            else:
                replaced[name] = tensor[None]
        updated = [entry.updated] if entry.updated is not None else []
        return CodebookWrite(
            label=self.label,
            start=len(book),
            appended={name: t.detach().cpu() for name, t in rows.items()},
            labels=(entry.label,) if rows else (),
            updated=torch.tensor(updated, dtype=torch.long),
            replaced={name: t.detach().cpu() for name, t in replaced.items()},
            shared={name: t.detach().cpu() for name, t in shared.items()},
        )
