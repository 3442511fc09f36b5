"""A codebook of edits wrapping one linear sub-layer (GRACE, BalancEdit), and the change that writes into it.

An entry is a key (a query of the sub-layer's input), a radius, a label (the target token ids it was written
for) and what the sub-layer outputs where the entry fires: a fixed value vector (GRACE) or a trained copy of the
sub-layer, shared by all entries or one per entry (BalancEdit). The base weights never change.

**The gate is causal and per position.** At each token the query is the sub-layer's input there (``token``
pooling) or the mean of the row's inputs up to and including it (``prefix_mean``, the causal form of BalancEdit's
mean over the sequence); the nearest key decides, and the entry fires if the query lies within its radius. A
position's output therefore never depends on later tokens, so teacher-forced scoring, generation with a key/value
cache (``token`` pooling) and generation without one all see the same gate. ``replace_last`` replaces the output
at the positions where an entry fires (GRACE's default for decoders, whose query is the last prompt token);
``replace_all`` also replaces every later position of the row, with the most recent firing entry. GRACE's
``replace_prompt`` (the positions *before* the query) is not offered: it needs the future.

A position where nothing fires keeps the sub-layer's output bit for bit; if nothing fires in a forward pass the
output is not touched at all.

:class:`CodebookWrite` appends entries, rewrites rows of existing ones (GRACE's split and expand) and replaces the
shared transformation; its undo restores exactly what was there, so sequential editing is a chain of patches like
any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from amend.changes.adapters import ModuleAdapter, SiteAdapter, component_digest
from amend.changes.attachments import attached
from amend.changes.base import Change, Journal, Undo
from amend.errors import PatchMismatch

DISTANCES = ("euclidean", "cosine")
POOLINGS = ("token", "prefix_mean")
REPLACEMENTS = ("replace_last", "replace_all")
OUTPUTS = ("value", "layer")
SHARINGS = ("shared", "per_entry")


def pool(inputs: torch.Tensor, mask: torch.Tensor | None, pooling: str) -> torch.Tensor:
    """Queries (batch, seq, d) from the sub-layer's inputs: each position's own input (``token``) or the mean of
    the row's non-padding inputs up to it (``prefix_mean``; 1 in ``mask`` marks a real token)."""
    if pooling == "token":
        return inputs
    weights = torch.ones(inputs.shape[:2], dtype=inputs.dtype, device=inputs.device) if mask is None else mask
    weights = weights.to(inputs.dtype)[..., None]
    totals = (inputs * weights).cumsum(1)
    counts = weights.cumsum(1).clamp(min=1)
    return totals / counts


def distances(queries: torch.Tensor, keys: torch.Tensor, kind: str) -> torch.Tensor:
    """(m, n) distances of queries (m, d) to keys (n, d): ``euclidean`` ‖q − k‖ or ``cosine`` 1 − cos(q, k)."""
    if kind == "cosine":
        q = torch.nn.functional.normalize(queries, dim=-1)
        k = torch.nn.functional.normalize(keys, dim=-1)
        return 1 - q @ k.T
    return torch.cdist(queries, keys)


def exact_distance(queries: torch.Tensor, keys: torch.Tensor, kind: str) -> torch.Tensor:
    """(m,) distance of each query to its own key (m, d): without the cancellation of a matrix-product formula,
    so a query equal to a key is at distance 0 and the radius rules compare like with like."""
    if kind == "cosine":
        return 1 - torch.nn.functional.cosine_similarity(queries, keys, dim=-1)
    return (queries - keys).norm(dim=-1)


class Codebook(SiteAdapter):
    """Entries gating one linear sub-layer (see the module docstring).

    Args:
        in_features, out_features: The wrapped sub-layer's widths.
        distance: ``euclidean`` or ``cosine``.
        pooling: ``token`` or ``prefix_mean``.
        replacement: ``replace_last`` or ``replace_all``.
        output: ``value`` (one vector per entry) or ``layer`` (a trained copy of the sub-layer).
        sharing: For ``layer`` output: one copy ``shared`` by every entry, or one ``per_entry``.
        weight, bias: The sub-layer's (out, in) weight and bias, the starting point of a shared copy.
    """

    name = "codebook"
    wraps = True
    reads_padding = True
    ROW_TENSORS: ClassVar[tuple[str, ...]] = ("keys", "radii", "values", "entry_weight", "entry_bias")
    SHARED_TENSORS: ClassVar[tuple[str, ...]] = ("shared_weight", "shared_bias")

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        distance: str = "euclidean",
        pooling: str = "token",
        replacement: str = "replace_last",
        output: str = "value",
        sharing: str = "shared",
        weight: torch.Tensor | None = None,
        bias: torch.Tensor | None = None,
    ):
        super().__init__()
        for value, allowed, what in (
            (distance, DISTANCES, "distance"),
            (pooling, POOLINGS, "pooling"),
            (replacement, REPLACEMENTS, "replacement"),
            (output, OUTPUTS, "output"),
            (sharing, SHARINGS, "sharing"),
        ):
            if value not in allowed:
                raise ValueError(f"codebook {what} must be one of {', '.join(allowed)}, got {value!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.distance, self.pooling, self.replacement = distance, pooling, replacement
        self.output, self.sharing = output, sharing
        self.register_buffer("keys", torch.zeros(0, in_features))
        self.register_buffer("radii", torch.zeros(0))
        self.register_buffer("label_ids", torch.zeros(0, dtype=torch.long))
        self.register_buffer("label_offsets", torch.zeros(1, dtype=torch.long))
        if output == "value":
            self.register_buffer("values", torch.zeros(0, out_features))
        elif sharing == "per_entry":
            self.register_buffer("entry_weight", torch.zeros(0, out_features, in_features))
            self.register_buffer("entry_bias", torch.zeros(0, out_features))
        else:
            if weight is None:
                raise ValueError("a codebook with a shared layer copy needs the sub-layer's weight to start from")
            self.register_buffer("shared_weight", weight.detach().float().clone())
            start = torch.zeros(out_features) if bias is None else bias.detach().float().clone()
            self.register_buffer("shared_bias", start)
        self.mask: torch.Tensor | None = None  # attention mask of the forward being run (observe_call)
        self.whole_sequence = pooling == "prefix_mean"

    # ---- reading ------------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self.radii.shape[0])

    def label(self, index: int) -> tuple[int, ...]:
        start, end = self.label_offsets[index].item(), self.label_offsets[index + 1].item()
        return tuple(self.label_ids[start:end].tolist())

    def labels(self) -> list[tuple[int, ...]]:
        return [self.label(i) for i in range(len(self))]

    def row_tensors(self) -> list[str]:
        """The per-entry tensors this codebook has (rows indexed by entry)."""
        return [name for name in self.ROW_TENSORS if hasattr(self, name)]

    def shared_tensors(self) -> list[str]:
        return [name for name in self.SHARED_TENSORS if hasattr(self, name)]

    def settings(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "distance": self.distance,
            "pooling": self.pooling,
            "replacement": self.replacement,
            "output": self.output,
            "sharing": self.sharing,
        }

    @classmethod
    def build(cls, settings: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> Codebook:
        try:
            book = cls(
                int(settings["in_features"]),
                int(settings["out_features"]),
                distance=str(settings["distance"]),
                pooling=str(settings["pooling"]),
                replacement=str(settings["replacement"]),
                output=str(settings["output"]),
                sharing=str(settings["sharing"]),
                weight=tensors.get("shared_weight"),
                bias=tensors.get("shared_bias"),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise PatchMismatch(f"a codebook cannot be rebuilt from settings {dict(settings)!r}: {err}") from None
        expected = book.state_dict()
        if set(tensors) != set(expected):
            raise PatchMismatch(f"a codebook adapter has tensors {sorted(tensors)}, expected {sorted(expected)}")
        for name, tensor in tensors.items():
            if tensor.dtype != expected[name].dtype or tensor.dim() != expected[name].dim():
                raise PatchMismatch(f"codebook tensor {name!r} has dtype {tensor.dtype} and {tensor.dim()} dims")
            setattr(book, name, tensor.clone())
        book.check()
        return book

    def check(self) -> None:
        """Every per-entry tensor has one row per entry and the labels are well formed (a loaded file is data)."""
        n = len(self)
        for name in self.row_tensors():
            if getattr(self, name).shape[0] != n:
                raise PatchMismatch(f"codebook tensor {name!r} has {getattr(self, name).shape[0]} rows for {n} entries")
        offsets = self.label_offsets
        if offsets.shape != (n + 1,) or offsets[0] != 0 or (offsets.diff() < 1).any():
            raise PatchMismatch("codebook label offsets are not increasing from 0 with one label per entry")
        if offsets[-1] != self.label_ids.shape[0]:
            raise PatchMismatch("codebook label offsets do not end at the number of label ids")

    # ---- the gate -----------------------------------------------------------------------------------------------

    def observe_call(self, kwargs: Mapping[str, Any]) -> None:
        self.mask = kwargs.get("attention_mask")

    def queries(self, inputs: torch.Tensor) -> torch.Tensor:
        mask = self.mask
        if self.pooling == "prefix_mean" and mask is not None and mask.shape[1] != inputs.shape[1]:
            raise RuntimeError(
                "a prefix_mean codebook needs the whole sequence in every forward; generate without a key/value "
                "cache (use_cache=False)"
            )
        return pool(inputs.float(), mask if self.pooling == "prefix_mean" else None, self.pooling)

    def gate(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(fires, entry) per position, both (batch, seq): whether the position's output is replaced, and by which
        entry."""
        queries = self.queries(inputs)
        flat = queries.reshape(-1, queries.shape[-1])
        nearest = distances(flat, self.keys, self.distance).argmin(-1)
        near = exact_distance(flat, self.keys[nearest], self.distance)
        fires = (near <= self.radii[nearest]).view(queries.shape[:2])
        entry = nearest.view(queries.shape[:2])
        if self.mask is not None and self.mask.shape == fires.shape:
            fires = fires & self.mask.bool().to(fires.device)
        if self.replacement == "replace_all":
            steps = torch.arange(fires.shape[1], device=fires.device).expand_as(fires)
            last = torch.where(fires, steps, -1).cummax(1).values  # the latest firing position up to each
            fires = last >= 0
            entry = entry.gather(1, last.clamp(min=0))
        return fires, entry

    def forward(self, inputs: torch.Tensor, output: torch.Tensor) -> torch.Tensor | None:  # type: ignore[override]
        if len(self) == 0:
            return None
        fires, entry = self.gate(inputs)
        if not bool(fires.any()):
            return None
        replaced = output.clone()
        replaced[fires] = self.entry_output(inputs[fires].float(), entry[fires]).to(output.dtype)
        return replaced

    def entry_output(self, inputs: torch.Tensor, entry: torch.Tensor) -> torch.Tensor:
        """What entries ``entry`` (m,) output for sub-layer inputs (m, in)."""
        if self.output == "value":
            return self.values[entry]
        if self.sharing == "shared":
            return inputs @ self.shared_weight.T + self.shared_bias
        return torch.einsum("moi,mi->mo", self.entry_weight[entry], inputs) + self.entry_bias[entry]

    def output_of(self, inputs: torch.Tensor, tensors: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """What one entry whose output tensors are ``tensors`` (its ``values`` row, or a layer copy: the shared one
        or one entry's) gives for inputs (m, in). A fact being trained is not in the codebook yet; this reads it
        from the trainable tensors without writing them in."""
        if self.output == "value":
            return tensors["values"].expand(len(inputs), -1)
        prefix = "shared" if self.sharing == "shared" else "entry"
        return inputs @ tensors[f"{prefix}_weight"].T + tensors[f"{prefix}_bias"]

    # ---- writing (only through CodebookWrite) -------------------------------------------------------------------

    def _append(self, rows: Mapping[str, torch.Tensor], labels: Sequence[Sequence[int]]) -> None:
        for name, tensor in rows.items():
            current = getattr(self, name)
            setattr(self, name, torch.cat([current, tensor.to(current.device, current.dtype)]))
        ids = [torch.tensor(label, dtype=torch.long) for label in labels]
        lengths = torch.tensor([len(label) for label in labels], dtype=torch.long)
        self.label_ids = torch.cat([self.label_ids, *ids]) if ids else self.label_ids
        self.label_offsets = torch.cat([self.label_offsets, self.label_offsets[-1] + lengths.cumsum(0)])

    def _truncate(self, size: int) -> None:
        for name in self.row_tensors():
            setattr(self, name, getattr(self, name)[:size].clone())
        end = int(self.label_offsets[size])
        self.label_ids = self.label_ids[:end].clone()
        self.label_offsets = self.label_offsets[: size + 1].clone()


@dataclass(frozen=True)
class CodebookWrite(Change):
    """Write into the codebook attached under ``label``: append entries, rewrite rows of existing ones, replace the
    shared layer copy. Applied only to a codebook of exactly ``start`` entries (the one it was computed on).

    Attributes:
        label: The label of the :class:`ModuleAdapter` holding the codebook.
        start: Number of entries before the write.
        appended: Per-entry tensors of the new entries (``keys``, ``radii``, ``values`` or ``entry_weight`` and
            ``entry_bias``), all with the same number of rows.
        labels: The new entries' labels (target token ids), one per appended row.
        updated: Indices (< ``start``) of existing entries whose rows ``replaced`` rewrites.
        replaced: New rows of existing entries, by tensor name, one row per index of ``updated``.
        shared: New values of the shared tensors (``shared_weight``, ``shared_bias``).
    """

    label: str
    start: int
    appended: Mapping[str, torch.Tensor] = field(default_factory=dict)
    labels: tuple[tuple[int, ...], ...] = ()
    updated: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.long))
    replaced: Mapping[str, torch.Tensor] = field(default_factory=dict)
    shared: Mapping[str, torch.Tensor] = field(default_factory=dict)

    kind: ClassVar[str] = "codebook_write"

    @property
    def target(self) -> str:
        return f"codebook:{self.label}"

    def apply(self, model: nn.Module, journal: Journal) -> Undo:
        index, old_rows, old_shared = self.write_into(codebook(model, self.label))
        return _RestoreCodebook(self, index, old_rows, old_shared)

    def write_into(self, book: Codebook) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Write into ``book`` (checked first: on an error nothing is written); returns what the undo restores."""
        self._check(book)
        index = self.updated.to(book.radii.device)
        old_rows = {name: getattr(book, name)[index].clone() for name in self.replaced}
        old_shared = {name: getattr(book, name).clone() for name in self.shared}
        for name, rows in self.replaced.items():
            tensor = getattr(book, name).clone()
            tensor[index] = rows.to(tensor.device, tensor.dtype)
            setattr(book, name, tensor)
        for name, tensor in self.shared.items():
            setattr(book, name, tensor.to(getattr(book, name).device, getattr(book, name).dtype).clone())
        book._append(self.appended, self.labels)
        return index, old_rows, old_shared

    def _check(self, book: Codebook) -> None:
        if len(book) != self.start:
            raise PatchMismatch(
                f"this codebook write was computed on {self.label!r} with {self.start} entries; it has {len(book)}"
            )
        rows = {name: tensor.shape[0] for name, tensor in self.appended.items()}
        if set(self.appended) != set(book.row_tensors()) and self.appended:
            raise PatchMismatch(
                f"a codebook write appends {sorted(self.appended)}, the codebook has {book.row_tensors()}"
            )
        if len(set(rows.values()) | {len(self.labels)}) != 1:
            raise PatchMismatch(f"a codebook write appends rows {rows} with {len(self.labels)} labels")
        if any(len(label) == 0 for label in self.labels):
            raise PatchMismatch("a codebook entry's label is empty")
        for name, tensor in [*self.appended.items(), *self.replaced.items(), *self.shared.items()]:
            reference = getattr(book, name, None)
            if reference is None:
                raise PatchMismatch(f"the codebook {self.label!r} has no tensor {name!r}")
            wanted = reference.shape if name in self.shared else reference.shape[1:]
            found = tensor.shape if name in self.shared else tensor.shape[1:]
            if found != wanted:
                raise PatchMismatch(f"codebook tensor {name!r}: rows of shape {tuple(found)}, expected {tuple(wanted)}")
        if self.updated.numel() and (int(self.updated.min()) < 0 or int(self.updated.max()) >= self.start):
            raise PatchMismatch(f"a codebook write updates entries {self.updated.tolist()} of {self.start}")
        if any(tensor.shape[0] != self.updated.numel() for tensor in self.replaced.values()):
            raise PatchMismatch("a codebook write replaces a different number of rows than it names")

    def to_saved(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        meta = {"label": self.label, "start": self.start, "labels": [list(label) for label in self.labels]}
        tensors = {f"appended.{name}": t for name, t in self.appended.items()}
        tensors |= {f"replaced.{name}": t for name, t in self.replaced.items()}
        tensors |= {f"shared.{name}": t for name, t in self.shared.items()}
        tensors["updated"] = self.updated
        return meta, {name: t.detach().contiguous().cpu() for name, t in tensors.items()}

    @classmethod
    def from_saved(cls, meta: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> CodebookWrite:
        labels = meta.get("labels")
        if not isinstance(labels, list) or not all(
            isinstance(label, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in label)
            for label in labels
        ):
            raise PatchMismatch("a codebook write's labels must be lists of token ids")
        groups: dict[str, dict[str, torch.Tensor]] = {"appended": {}, "replaced": {}, "shared": {}}
        for name, tensor in tensors.items():
            group, _, own = name.partition(".")
            if name == "updated":
                continue
            allowed = Codebook.SHARED_TENSORS if group == "shared" else Codebook.ROW_TENSORS
            if group not in groups or own not in allowed:
                raise PatchMismatch(f"a codebook write has an unknown tensor {name!r}")
            groups[group][own] = tensor
        updated = tensors.get("updated", torch.zeros(0, dtype=torch.long))
        if updated.dtype != torch.long or updated.dim() != 1:
            raise PatchMismatch("a codebook write's 'updated' must be a 1-d integer tensor")
        return cls(
            label=str(meta["label"]),
            start=int(meta["start"]),
            appended=groups["appended"],
            labels=tuple(tuple(label) for label in labels),
            updated=updated,
            replaced=groups["replaced"],
            shared=groups["shared"],
        )


def codebook(model: nn.Module, label: str) -> Codebook:
    """The codebook attached to ``model`` under ``label``."""
    adapter: ModuleAdapter | None = attached(model).adapters.get(label)
    if adapter is None or not isinstance(adapter.component, Codebook):
        raise PatchMismatch(f"no codebook is attached under {label!r}")
    return adapter.component


class _RestoreCodebook(Undo):
    def __init__(self, write: CodebookWrite, index, old_rows, old_shared):
        self.write, self.index, self.old_rows, self.old_shared = write, index, old_rows, old_shared
        self.sealed: str | None = None

    def seal(self, model: nn.Module) -> None:
        self.sealed = component_digest(codebook(model, self.write.label))

    def changed_since(self, model: nn.Module) -> str | None:
        try:
            book = codebook(model, self.write.label)
        except PatchMismatch:
            return f"the codebook {self.write.label!r} was removed"
        if self.sealed is not None and component_digest(book) != self.sealed:
            return f"the codebook {self.write.label!r} was written to"
        return None

    def undo(self, model: nn.Module) -> None:
        book = codebook(model, self.write.label)
        book._truncate(self.write.start)
        for name, tensor in self.old_shared.items():
            setattr(book, name, tensor)
        for name, rows in self.old_rows.items():
            tensor = getattr(book, name).clone()
            tensor[self.index] = rows
            setattr(book, name, tensor)


@dataclass(frozen=True)
class EntryRow:
    """One entry of a codebook as :func:`codebook_entries` lists it."""

    codebook: str
    index: int
    radius: float
    key_norm: float
    label: tuple[int, ...]
    written_by: int  # the patch (in the order given) that added the entry
    rewritten_by: tuple[int, ...]  # later patches that changed its radius, key or output (split, expansion)


def codebook_entries(changes_by_patch: Sequence[Sequence[Change]]) -> list[EntryRow]:
    """Every codebook entry that the patches' changes leave, replayed in order on the saved data alone (no model):
    ``amend inspect``."""
    books: dict[str, Codebook] = {}
    origin: dict[str, list[int]] = {}
    rewrites: dict[str, dict[int, list[int]]] = {}
    for number, changes in enumerate(changes_by_patch):
        for change in changes:
            if isinstance(change, ModuleAdapter) and isinstance(change.component, Codebook):
                settings, tensors = change.snapshot
                books[change.label] = Codebook.build(settings, tensors)
                origin[change.label] = [number] * len(books[change.label])
                rewrites[change.label] = {}
            elif isinstance(change, CodebookWrite):
                if change.label not in books:
                    raise PatchMismatch(f"a write into {change.label!r} comes before the codebook is attached")
                change.write_into(books[change.label])
                origin[change.label] += [number] * len(change.labels)
                for index in change.updated.tolist():
                    rewrites[change.label].setdefault(index, []).append(number)
    rows = []
    for label, book in books.items():
        norms = book.keys.norm(dim=-1).tolist()
        for i in range(len(book)):
            again = tuple(rewrites[label].get(i, []))
            rows.append(EntryRow(label, i, float(book.radii[i]), norms[i], book.label(i), origin[label][i], again))
    return rows
