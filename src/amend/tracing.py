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

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from amend.architectures import Component, Site, anatomy
from amend.forward import unembed
from amend.hooks import capture, hook_sites, noise_at_embeddings, subject_span
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
) -> Trace:
    """The causal trace of ``template`` with ``subject`` (the answer defaults to the model's greedy next token)."""
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
    for kind in kinds:
        conditions = [(kind, layer, token) for layer in range(body.num_layers) for token in range(len(ids))]
        probs = _probabilities(
            model, ids, span, noise, answer_id, conditions, body, clean_states, window, rows_per_pass
        )
        result.scores[kind] = probs.view(body.num_layers, len(ids), samples).mean(-1)
    return result


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


def _restorations(conditions, body, clean_states, window):
    """Site -> transform putting back the clean state at the rows and tokens that restore it."""
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

        def transform(hidden: torch.Tensor) -> torch.Tensor:
            changed = hidden.clone()
            changed[rows, tokens] = clean_states[site][0, tokens].to(hidden.dtype)
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
