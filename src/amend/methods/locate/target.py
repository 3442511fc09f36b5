"""Target-vector optimisation (spec §0.4): the vector a site must hold for the model to say the new object.

For every request, a free vector δ is added at the fact token of the site (ROME: the MLP output of the edited
layer; MEMIT family: the residual stream of the last edited layer) and optimised with Adam to minimise

    mean over templates of the target's per-token NLL  +  κ · KL(p_δ ‖ p_0) on "{subject} is a"  +  ω · ‖δ‖ / ‖h₀‖²

with early stopping at loss < ``early_stop_loss``, at most N−1 steps, and δ clamped after each step to
``clamp_norm_factor`` · ‖h₀‖. All requests run together: each step is one batched forward and backward over every
still-active request's prompts. Requests are independent (separate δ rows, elementwise Adam), so a batch gives the
same vectors as one request at a time; a request that converges leaves the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

import torch
from transformers import PreTrainedTokenizerBase

from amend.architectures.anatomy import Anatomy, Site
from amend.errors import EditFailed
from amend.forward import logits_at
from amend.hooks import add_at_positions, capture, token_index
from amend.records import EditRequest, fill
from amend.tokens import encode, pad_id, pad_right, target_ids


@dataclass(frozen=True)
class TargetSettings:
    steps: int = 20
    lr: float = 0.5
    weight_decay: float = 0.5
    clamp_norm_factor: float = 4.0
    kl_factor: float = 0.0625
    early_stop_loss: float = 0.05
    kl_prompt: str = "{} is a"
    fact_token: str = "subject_last"


@dataclass
class TargetResult:
    """Optimised vectors and what it cost."""

    init: torch.Tensor  # (n, d) the site's value at the fact token of the bare prompt (h₀ / m₀)
    delta: torch.Tensor  # (n, d) the optimised δ
    iterations: list[int] = field(default_factory=list)  # per request: forward passes it took part in
    losses: list[float] = field(default_factory=list)  # per request: loss at its last iteration
    forward_passes: int = 0
    backward_passes: int = 0

    @property
    def target(self) -> torch.Tensor:
        """v* = m₀ + δ (ROME) or z = h₀ + δ (MEMIT family)."""
        return self.init + self.delta


@dataclass(frozen=True)
class _Problem:
    """The batched optimisation problem: rows, their fact tokens, and the labelled positions."""

    batch: object  # amend.tokens.Batch
    row_request: torch.Tensor  # (rows,) request of each row
    lookup: torch.Tensor  # (rows,) fact-token index of each row
    label_row: torch.Tensor  # (labels,) row of each labelled position
    label_col: torch.Tensor  # (labels,) position whose logits predict the label
    label_token: torch.Tensor  # (labels,)
    label_weight: torch.Tensor  # (labels,) 1 / target length of its row
    kl_row: torch.Tensor  # (n,) the KL row of each request
    first_row: torch.Tensor  # (n,) the bare-prompt row of each request


def optimise_targets(
    anatomy: Anatomy,
    tokenizer: PreTrainedTokenizerBase,
    requests: Sequence[EditRequest],
    templates: Sequence[str],
    site: Site,
    settings: TargetSettings,
    *,
    answer: Callable[[EditRequest], str] = lambda request: request.target_new,
) -> TargetResult:
    """Optimise one δ per request at ``site`` (see the module docstring). ``templates[0]`` must be ``"{}"``."""
    if not templates or templates[0] != "{}":
        raise ValueError("the first context template must be the bare prompt '{}'")
    device = next(anatomy.model.parameters()).device
    problem = _build_problem(tokenizer, requests, templates, settings, answer)
    n = len(requests)
    delta = torch.zeros(n, anatomy.hidden_size, device=device, requires_grad=True)
    optimiser = torch.optim.Adam([delta], lr=settings.lr)
    result = TargetResult(init=torch.zeros(n, anatomy.hidden_size), delta=torch.zeros(n, anatomy.hidden_size))
    result.iterations, result.losses = [0] * n, [float("nan")] * n
    active = torch.ones(n, dtype=torch.bool)
    init = base_logprobs = None
    for iteration in range(settings.steps):
        rows = torch.nonzero(active[problem.row_request]).squeeze(1)
        step = _forward(anatomy, problem, rows, delta, site, capture_init=init is None)
        result.forward_passes += 1
        if init is None:
            init = step["init"].detach().float()
            base_logprobs = step["kl_logprobs"].detach()
            result.init = init.cpu()
        losses = _losses(step, problem, rows, delta, init, base_logprobs, active, settings)
        _check_finite(losses, "target-vector loss")
        requests_now = torch.nonzero(active).squeeze(1)
        done = (losses.detach().cpu() < settings.early_stop_loss) | (iteration == settings.steps - 1)
        for position, request in enumerate(requests_now.tolist()):
            result.iterations[request] += 1
            result.losses[request] = float(losses[position].detach())
            if done[position]:
                result.delta[request] = delta[request].detach().cpu()
                active[request] = False
        if not active.any():
            break
        optimiser.zero_grad()
        losses[~done.to(losses.device)].sum().backward()
        result.backward_passes += 1
        optimiser.step()
        _clamp(delta, init, active, settings.clamp_norm_factor)
    _check_finite(result.delta, "target vector")
    return result


def _build_problem(
    tokenizer: PreTrainedTokenizerBase,
    requests: Sequence[EditRequest],
    templates: Sequence[str],
    settings: TargetSettings,
    answer: Callable[[EditRequest], str],
) -> _Problem:
    ids, row_request, lookup = [], [], []
    label_row, label_col, label_token, label_weight = [], [], [], []
    first_row, kl_row = [], []
    for i, request in enumerate(requests):
        first_row.append(len(ids))
        for template in templates:
            slot = fill(template, request.prompt)
            prompt, target = target_ids(tokenizer, fill(slot, request.subject), answer(request))
            row = len(ids)
            ids.append(prompt + target[:-1])
            row_request.append(i)
            lookup.append(token_index(tokenizer, slot, request.subject, settings.fact_token))
            for offset, token in enumerate(target):
                label_row.append(row)
                label_col.append(len(prompt) - 1 + offset)
                label_token.append(token)
                label_weight.append(1.0 / len(target))
    for i, request in enumerate(requests):
        kl_row.append(len(ids))
        ids.append(encode(tokenizer, fill(settings.kl_prompt, request.subject)))
        row_request.append(i)
        lookup.append(token_index(tokenizer, settings.kl_prompt, request.subject, settings.fact_token))
    as_long = lambda values: torch.tensor(values, dtype=torch.long)  # noqa: E731
    return _Problem(
        batch=pad_right(ids, pad_id(tokenizer)),
        row_request=as_long(row_request),
        lookup=as_long(lookup),
        label_row=as_long(label_row),
        label_col=as_long(label_col),
        label_token=as_long(label_token),
        label_weight=torch.tensor(label_weight),
        kl_row=as_long(kl_row),
        first_row=as_long(first_row),
    )


def _forward(
    anatomy: Anatomy, problem: _Problem, rows: torch.Tensor, delta: torch.Tensor, site: Site, capture_init: bool
) -> dict[str, torch.Tensor]:
    """One batched forward over ``rows`` with δ added; logits only at labelled positions and KL tokens."""
    device = delta.device
    new_index = torch.full((len(problem.row_request),), -1, dtype=torch.long)
    new_index[rows] = torch.arange(len(rows))
    batch = problem.batch.select(rows).to(device)
    positions = problem.lookup[rows].to(device)
    labels = torch.nonzero(new_index[problem.label_row] >= 0).squeeze(1)
    kl_rows = problem.kl_row[new_index[problem.kl_row] >= 0]
    select_rows = torch.cat([new_index[problem.label_row[labels]], new_index[kl_rows]])
    select_cols = torch.cat([problem.label_col[labels], problem.lookup[kl_rows]])
    with ExitStack() as stack:
        records = stack.enter_context(capture(anatomy, [site], positions)) if capture_init else {}
        stack.enter_context(add_at_positions(anatomy, site, positions, delta[problem.row_request[rows].to(device)]))
        logits = logits_at(anatomy.model, batch, select_rows, select_cols)
    step = {"labels": labels, "logits": logits[: len(labels)], "kl_logprobs": logits[len(labels) :].log_softmax(-1)}
    if capture_init:
        step["init"] = records[site][new_index[problem.first_row]]
    return step


def _losses(
    step: dict[str, torch.Tensor],
    problem: _Problem,
    rows: torch.Tensor,
    delta: torch.Tensor,
    init: torch.Tensor,
    base_logprobs: torch.Tensor,
    active: torch.Tensor,
    settings: TargetSettings,
) -> torch.Tensor:
    """Loss of each active request, in request order."""
    device = delta.device
    labels = step["labels"]
    token_logprobs = step["logits"].log_softmax(-1).gather(1, problem.label_token[labels].to(device)[:, None])
    row_nll = torch.zeros(len(problem.row_request), device=device).index_add(
        0, problem.label_row[labels].to(device), -token_logprobs[:, 0] * problem.label_weight[labels].to(device)
    )
    requests_now = torch.nonzero(active).squeeze(1)
    rewrite_rows = problem.row_request[rows][: len(rows) - len(requests_now)]  # KL rows come last
    per_request = torch.zeros(len(active), device=device).index_add(
        0, rewrite_rows.to(device), row_nll[rows[: len(rewrite_rows)].to(device)]
    )
    templates = torch.bincount(rewrite_rows, minlength=len(active)).to(device)
    nll = (per_request / templates.clamp(min=1))[requests_now.to(device)]
    logprobs = step["kl_logprobs"]
    base = base_logprobs[requests_now.to(base_logprobs.device)]
    kl = (logprobs.exp() * (logprobs - base)).sum(-1)
    decay = settings.weight_decay * delta[requests_now].norm(dim=-1) / init[requests_now].norm(dim=-1) ** 2
    return nll + settings.kl_factor * kl + decay


@torch.no_grad()
def _clamp(delta: torch.Tensor, init: torch.Tensor, active: torch.Tensor, factor: float) -> None:
    limit = factor * init.norm(dim=-1, keepdim=True)
    norms = delta.norm(dim=-1, keepdim=True)
    scale = torch.where(norms > limit, limit / norms.clamp(min=1e-12), torch.ones_like(norms))
    delta.mul_(torch.where(active.to(delta.device)[:, None], scale, torch.ones_like(scale)))


def _check_finite(tensor: torch.Tensor, what: str) -> None:
    if not torch.isfinite(tensor).all():
        raise EditFailed(f"the {what} became non-finite (NaN or inf)")
