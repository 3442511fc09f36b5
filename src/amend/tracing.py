"""Causal tracing (ROME, Meng et al. 2022, §2.1): where in the network does a prompt's answer depend on the subject?

The subject's token embeddings are corrupted with Gaussian noise (3 × the standard deviation of the model's token
embeddings, as the reference), which lowers the probability of the answer. Then, one (layer, token) at a time, a
state of the clean run is restored inside the corrupted run, and the answer's probability is read again:

* ``hidden``: the residual stream after the layer, at that token;
* ``mlp`` / ``attn``: the MLP or attention outputs of a window of ``window`` layers centred on the layer, at that
  token (the reference's window of 10).

The indirect effect of a state is p(answer | corrupted, state restored) − p(answer | corrupted). Every condition of a
prompt is one row of a batch, each noise sample too, so a trace is a few batched forward passes. A set of traces
recommends the layer whose MLP at the subject's last token has the largest mean effect: where ROME edits.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from amend.architectures import Component, Site, anatomy
from amend.forward import forward_with_cache, unembed
from amend.hooks import capture, hook_sites, noise_at_embeddings, subject_span
from amend.hooks.resume import layer_input
from amend.methods.locate.suffix import SuffixForward
from amend.requests import fill
from amend.tokens import encode, target_ids

KINDS = {"hidden": Component.BLOCK_OUTPUT, "mlp": Component.MLP_OUTPUT, "attn": Component.ATTN_OUTPUT}


@dataclass
class Trace:
    """The restoration effects of one prompt.

    Attributes:
        prompt: The prompt (subject filled in).
        answer: The continuation whose probability is traced.
        tokens: The prompt's tokens, decoded one by one.
        subject: (first, last) token index of the subject.
        clean: p(answer) of the clean run; ``corrupted`` that of the corrupted run (mean over noise samples).
        scores: kind -> (layers, tokens) mean p(answer) with that state restored.
    """

    prompt: str
    answer: str
    tokens: list[str]
    subject: tuple[int, int]
    clean: float
    corrupted: float
    scores: dict[str, torch.Tensor] = field(default_factory=dict)

    def effect(self, kind: str) -> torch.Tensor:
        """Indirect effects (layers, tokens): restored minus corrupted probability."""
        return self.scores[kind] - self.corrupted

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "answer": self.answer,
            "tokens": self.tokens,
            "subject": list(self.subject),
            "clean": self.clean,
            "corrupted": self.corrupted,
            "scores": {kind: value.tolist() for kind, value in self.scores.items()},
        }


def noise_scale(model: nn.Module) -> float:
    """3 × the standard deviation of the token embeddings (ROME's noise level)."""
    return 3 * float(model.get_input_embeddings().weight.detach().float().std())


@torch.no_grad()
def trace(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    template: str,
    subject: str,
    answer: str | None = None,
    *,
    kinds: Sequence[str] = ("hidden", "mlp", "attn"),
    samples: int = 5,
    window: int = 10,
    seed: int = 0,
    rows_per_pass: int = 64,
    partial: bool = True,
) -> Trace:
    """The causal trace of ``template`` with ``subject`` (the answer defaults to the model's greedy next token).

    A restoration at token t and layers from a on changes nothing before t nor below a. With ``partial`` (the
    default) each noise sample's corrupted run is computed once, keeping every layer's input and every token's keys
    and values, and each restored run computes only tokens t.. through layers a.. (about a quarter of a full
    forward on average); ``partial=False`` runs every restored run in full (the same probabilities to float
    rounding: tests)."""
    body = anatomy(model)
    text = fill(template, subject)
    ids = encode(tokenizer, text)
    span = subject_span(tokenizer, template, subject)
    device = next(model.parameters()).device
    clean_inputs = torch.tensor([ids], device=device)
    sites = [Site(component, layer) for component in KINDS.values() for layer in range(body.num_layers)]
    with capture(body, sites) as clean_states:
        logits = _last_logits(model, clean_inputs)[0]
    if answer is None:
        answer = tokenizer.decode([int(logits.argmax())])
    answer_id = target_ids(tokenizer, text, answer)[1][0]  # the answer's first token, as the reference
    clean = float(logits.softmax(-1)[answer_id])
    generator = torch.Generator().manual_seed(seed)
    width = span[1] - span[0] + 1
    noise = torch.randn(samples, width, body.hidden_size, generator=generator) * noise_scale(model)
    corrupted = _probabilities(model, ids, span, noise, answer_id, [], body, clean_states, window, rows_per_pass)
    result = Trace(text, answer, [tokenizer.decode([i]) for i in ids], span, clean, float(corrupted.mean()))
    shape = (body.num_layers, len(ids), samples)
    conditions = {
        kind: [(kind, layer, token) for layer in range(body.num_layers) for token in range(len(ids))] for kind in kinds
    }
    if partial:
        runs = _corrupted_runs(body, ids, span, noise)
        rows = [(condition, s) for kind in kinds for condition in conditions[kind] for s in range(samples)]
        probs = _resumed_probabilities(body, ids, runs, rows, answer_id, clean_states, window, 4 * rows_per_pass)
        for i, kind in enumerate(kinds):
            result.scores[kind] = probs.view(len(kinds), *shape)[i].mean(-1)
        return result
    for kind in kinds:
        probs = _probabilities(
            model, ids, span, noise, answer_id, conditions[kind], body, clean_states, window, rows_per_pass
        )
        result.scores[kind] = probs.view(shape).mean(-1)
    return result


@dataclass(frozen=True)
class _CorruptedRuns:
    """One corrupted run per noise sample: every decoder layer's input, and the keys and values of every token."""

    inputs: dict[int, torch.Tensor]  # layer -> (samples, tokens, d)
    cache: Any


def _corrupted_runs(body, ids: list[int], span: tuple[int, int], noise: torch.Tensor) -> _CorruptedRuns:
    model = body.model
    inputs = torch.tensor([ids] * noise.shape[0], device=next(model.parameters()).device)
    with ExitStack() as stack:
        records = {layer: stack.enter_context(layer_input(body, layer)) for layer in range(body.num_layers)}
        stack.enter_context(noise_at_embeddings(model, span, noise))
        _, cache = forward_with_cache(model.base_model, input_ids=inputs)
    return _CorruptedRuns({layer: record["hidden"] for layer, record in records.items()}, cache)


RESUME_BAND = 8  # layers whose restored runs resume together at the lowest of them


def _first_layer(condition, window: int) -> int:
    """The lowest layer a restoration changes: a restored run is the corrupted one below it."""
    kind, layer, _ = condition
    return layer if kind == "hidden" else max(0, layer - window // 2)


def _resumed_probabilities(body, ids, runs: _CorruptedRuns, rows, answer_id, clean_states, window, per_pass):
    """p(answer) of each (condition, noise sample) row, in order. A pass holds rows restored at one token whose first
    changed layer is in one band of ``RESUME_BAND`` layers (at most ``per_pass`` of them): it resumes the corrupted
    run at the band's lowest such layer and computes the tokens from the restored one on, so rows share their width
    and nearly their depth, and passes stay large (a small model's layer on a CPU costs about the time to read its
    weights, whatever the number of rows)."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (condition, _) in enumerate(rows):
        groups.setdefault((condition[2], _first_layer(condition, window) // RESUME_BAND), []).append(i)
    out = torch.empty(len(rows))
    for members in groups.values():
        for start in range(0, len(members), per_pass):
            chosen = members[start : start + per_pass]
            out[chosen] = _resumed_pass(body, ids, runs, [rows[i] for i in chosen], answer_id, clean_states, window)
    return out


def _resumed_pass(body, ids, runs: _CorruptedRuns, rows, answer_id, clean_states, window) -> torch.Tensor:
    first = min(_first_layer(condition, window) for condition, _ in rows)
    length, device = len(ids), runs.inputs[0].device
    tokens = torch.tensor([condition[2] for condition, _ in rows], device=device)
    sample = torch.tensor([s for _, s in rows], device=device)
    cache = copy.deepcopy(runs.cache)
    cache.batch_select_indices(sample)
    suffix = SuffixForward.from_states(
        body,
        torch.tensor([ids], device=device).expand(len(rows), -1),
        torch.full((len(rows),), length, device=device),
        tokens,
        first,
        runs.inputs[first][sample],
        cache,
        length,
    )
    transforms = _restorations([condition for condition, _ in rows], body, clean_states, window, offsets=tokens.cpu())
    every = torch.arange(len(rows))
    with hook_sites(body, transforms):
        logits = suffix.logits_at(every, every, torch.full((len(rows),), length - 1))
    return logits.softmax(-1)[:, answer_id].cpu()


def _probabilities(model, ids, span, noise, answer_id, conditions, body, clean_states, window, rows_per_pass):
    """p(answer) of the corrupted run with each condition's clean state restored; one row per (condition, noise
    sample), in that order. No condition: the corrupted run itself, per sample."""
    samples = noise.shape[0]
    rows = [(condition, s) for condition in (conditions or [None]) for s in range(samples)]
    out = []
    device = next(model.parameters()).device
    for start in range(0, len(rows), rows_per_pass):
        chunk = rows[start : start + rows_per_pass]
        inputs = torch.tensor([ids] * len(chunk), device=device)
        transforms = _restorations([condition for condition, _ in chunk], body, clean_states, window)
        with noise_at_embeddings(model, span, noise[[s for _, s in chunk]]), hook_sites(body, transforms):
            logits = _last_logits(model, inputs)
        out.append(logits.softmax(-1)[:, answer_id].cpu())
    return torch.cat(out)


def _last_logits(model, inputs: torch.Tensor) -> torch.Tensor:
    """Float32 logits at the last position only: unembedding every position costs a fifth of SmolLM2's compute
    per token, which a trace's thousands of forwards would otherwise pay for nothing."""
    return unembed(model, model.base_model(input_ids=inputs).last_hidden_state[:, -1])


def _restorations(conditions, body, clean_states, window, offsets: torch.Tensor | None = None):
    """Site -> transform putting back the clean state at the rows and tokens that restore it; with ``offsets``, row
    i's activations start at token ``offsets[i]`` (a resumed run of the tokens from there on)."""
    at: dict[Site, list[tuple[int, int]]] = {}
    for row, condition in enumerate(conditions):
        if condition is None:
            continue
        kind, layer, token = condition
        if kind == "hidden":
            layers = [layer]
        else:  # a window of layers centred on the layer, clipped to the model
            layers = range(max(0, layer - window // 2), min(body.num_layers, layer - window // 2 + window))
        for restored in layers:
            at.setdefault(Site(KINDS[kind], restored), []).append((row, token))

    def restore(site: Site, places: list[tuple[int, int]]):
        rows = torch.tensor([row for row, _ in places])
        tokens = torch.tensor([token for _, token in places])
        positions = tokens if offsets is None else tokens - offsets[rows]

        def transform(hidden: torch.Tensor) -> torch.Tensor:
            changed = hidden.clone()
            changed[rows, positions] = clean_states[site][0, tokens].to(hidden.dtype)
            return changed

        return transform

    return {site: restore(site, places) for site, places in at.items()}


def recommend_layer(traces: Sequence[Trace], kind: str = "mlp") -> int:
    """The layer whose ``kind`` state at the subject's last token has the largest mean indirect effect."""
    effects = torch.stack([t.effect(kind)[:, t.subject[1]] for t in traces]).mean(0)
    return int(effects.argmax())


def plot_trace(traces: Sequence[Trace], path: Path) -> Path:
    """Heat maps (one per kind) of the mean indirect effect over ``traces``, tokens as subject-relative labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(traces[0].scores)
    figure, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 4), squeeze=False)
    for axis, kind in zip(axes[0], kinds, strict=True):
        if len(traces) == 1:
            image, labels = traces[0].effect(kind), traces[0].tokens
        else:
            image, labels = _aligned_mean(traces, kind)
        shown = axis.imshow(
            image.T.numpy(), aspect="auto", cmap={"hidden": "Purples", "mlp": "Greens"}.get(kind, "Reds")
        )
        axis.set_yticks(range(len(labels)), labels, fontsize=7)
        axis.set_xlabel("layer")
        axis.set_title(f"{kind}: restored − corrupted p")
        figure.colorbar(shown, ax=axis)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _aligned_mean(traces: Sequence[Trace], kind: str) -> tuple[torch.Tensor, list[str]]:
    """Effects averaged over prompts at the reference's token groups: before the subject, its first, middle and last
    tokens, the tokens after it, and the last token."""
    labels = ["before subject", "subject first", "subject middle", "subject last", "after subject", "last token"]
    rows = []
    for t in traces:
        effect = t.effect(kind)  # (layers, tokens)
        first, last = t.subject
        n = effect.shape[1]
        groups = [
            list(range(first)),
            [first],
            list(range(first + 1, last)),
            [last],
            list(range(last + 1, n - 1)),
            [n - 1],
        ]
        rows.append(torch.stack([_mean_columns(effect, columns) for columns in groups], dim=1))
    return torch.nanmean(torch.stack(rows), 0), labels


def _mean_columns(effect: torch.Tensor, columns: list[int]) -> torch.Tensor:
    """Mean over token columns (NaN for an empty group, left out of the mean over prompts)."""
    return effect[:, columns].mean(1) if columns else torch.full((effect.shape[0],), float("nan"))
