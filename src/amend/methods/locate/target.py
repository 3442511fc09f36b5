"""Target-vector optimisation (spec §0.4): the vector a site must hold for the model to say the new object.

For every request, a free vector δ is added at the fact token of the site (ROME: the MLP output of the edited
layer; MEMIT family: the residual stream of the last edited layer) and optimised with Adam to minimise

    mean over templates of the target's per-token NLL  +  κ · mean KL(p_δ ‖ p_0) over the KL prompts  +  ω · ‖δ‖ / ‖h₀‖²

with early stopping at loss < ``early_stop_loss``, at most N−1 steps, and δ clamped after each step to
``clamp_norm_factor`` · ‖h₀‖. The KL prompts default to ROME's single essence prompt "{subject} is a", measured
at the subject's last token; a model may instead preserve the next-token distribution after several prompts about
the subject (``kl_position="last"``). A KL prompt whose pre-edit prediction is the request's old object is left out
for that request: preserving it would preserve the very fact being removed.

All requests run together: each step is one batched forward and backward over every still-active request's
prompts. Requests are independent (separate δ rows, elementwise Adam), so a batch gives the same vectors as one
request at a time; a request that converges leaves the batch.

Two extensions serve PMET: several sites of one layer can be optimised jointly (each with its own δ, decay term
and clamp), and once the target is already the argmax at every label the NLL may be down-weighted and the
optimisation stopped as soon as the KL term is small (``argmax_nll_factor``, ``argmax_kl_stop``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from amend.architectures.anatomy import Anatomy, Component, Site
from amend.errors import ConfigError, EditFailed
from amend.forward import lens_logits, logits_at
from amend.hooks import add_at_positions, capture, token_index
from amend.methods.locate.suffix import SuffixForward, logits_close
from amend.requests import EditRequest, fill
from amend.tokens import encode, pad_id, pad_right, target_ids


@dataclass(frozen=True)
class TargetSettings:
    steps: int = 20
    lr: float = 0.5
    weight_decay: float = 0.5
    clamp_norm_factor: float = 4.0
    kl_factor: float = 0.0625
    early_stop_loss: float = 0.05
    kl_prompts: tuple[str, ...] = ("{} is a",)
    kl_position: str = "fact_token"  # where a KL prompt's distribution is taken: the fact token or the prompt's end
    fact_token: str = "subject_last"
    argmax_nll_factor: float = 1.0  # NLL weight while the target is the argmax at every label (PMET: 0.1)
    argmax_kl_stop: float | None = None  # then stop once κ·KL is at most this (PMET: 0.01)
    requests_per_pass: int = 16  # requests optimised in one batched pass; more pads more and thrashes memory
    reuse_frozen: bool = True  # compute once what δ cannot change (see SuffixForward); False: the whole network
    loss_layer: int | None = None  # the NLL reads this layer's output through the final norm (None: the logits)


@dataclass
class TargetResult:
    """Optimised vectors and what it cost."""

    init: torch.Tensor  # (n, d) the (first) site's value at the fact token of the bare prompt (h₀ / m₀)
    delta: torch.Tensor  # (n, d) the optimised δ
    joint: dict[Site, torch.Tensor] = field(default_factory=dict)  # targets at the other jointly optimised sites
    iterations: list[int] = field(default_factory=list)  # per request: forward passes it took part in
    losses: list[float] = field(default_factory=list)  # per request: loss at its last iteration
    forward_passes: int = 0
    backward_passes: int = 0
    partial_forward: str = "off"  # whether steps after the first ran only what δ changes ("checked"), or why not

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
    kl_row: torch.Tensor  # (kl,) row of each KL prompt, request-major, after every rewrite row
    kl_request: torch.Tensor  # (kl,) request of each KL row
    kl_col: torch.Tensor  # (kl,) position whose distribution the KL term preserves
    kl_old: torch.Tensor  # (kl,) first token of the old object after the KL prompt (-1: nothing to leave out)
    first_row: torch.Tensor  # (n,) the bare-prompt row of each request


def optimise_targets(
    anatomy: Anatomy,
    tokenizer: PreTrainedTokenizerBase,
    requests: Sequence[EditRequest],
    templates: Sequence[str],
    site: Site | Sequence[Site],
    settings: TargetSettings,
    *,
    answer: Callable[[EditRequest], str] = lambda request: request.target_new,
    progress: bool = False,
) -> TargetResult:
    """Optimise one δ per request at ``site`` (see the module docstring). ``templates[0]`` must be ``"{}"``.

    With several sites, each gets its own δ; ``init`` and ``delta`` of the result are the first site's and
    ``joint`` holds the targets reached at the others. Requests go through in groups of
    ``settings.requests_per_pass``: they are independent, so grouping changes only speed and memory. ``progress``
    shows a bar over the groups (a batch of 100 takes minutes on a CPU).
    """
    if not templates or templates[0] != "{}":
        raise ValueError("the first context template must be the bare prompt '{}'")
    if settings.steps < 1 or settings.requests_per_pass < 1:
        raise ValueError("the target optimisation needs at least one iteration and one request per pass")
    sites = [site] if isinstance(site, Site) else list(site)
    if settings.loss_layer is not None and not max(s.layer for s in sites) <= settings.loss_layer < anatomy.num_layers:
        raise ConfigError(
            f"v_loss_layer {settings.loss_layer} must be a layer at or above the edited site's "
            f"({max(s.layer for s in sites)}) and below {anatomy.num_layers}: the loss must see the target vector"
        )
    size = settings.requests_per_pass
    starts = range(0, len(requests), size)
    shown = tqdm(starts, desc="target vectors", unit="group", leave=False, disable=not progress or len(starts) < 2)
    parts = [
        _optimise_group(anatomy, tokenizer, requests[i : i + size], templates, sites, settings, answer) for i in shown
    ]
    return parts[0] if len(parts) == 1 else _concatenate(parts)


def _concatenate(parts: list[TargetResult]) -> TargetResult:
    """One result from the results of consecutive groups of requests."""
    return TargetResult(
        init=torch.cat([p.init for p in parts]),
        delta=torch.cat([p.delta for p in parts]),
        joint={site: torch.cat([p.joint[site] for p in parts]) for site in parts[0].joint},
        iterations=[i for p in parts for i in p.iterations],
        losses=[loss for p in parts for loss in p.losses],
        forward_passes=sum(p.forward_passes for p in parts),
        backward_passes=sum(p.backward_passes for p in parts),
        partial_forward=", ".join(sorted({p.partial_forward for p in parts})),
    )


def _optimise_group(
    anatomy: Anatomy,
    tokenizer: PreTrainedTokenizerBase,
    requests: Sequence[EditRequest],
    templates: Sequence[str],
    sites: list[Site],
    settings: TargetSettings,
    answer: Callable[[EditRequest], str],
) -> TargetResult:
    device = next(anatomy.model.parameters()).device
    problem = _build_problem(tokenizer, requests, templates, settings, answer)
    n = len(requests)
    delta = torch.zeros(n, len(sites), anatomy.hidden_size, device=device, requires_grad=True)
    optimiser = torch.optim.Adam([delta], lr=settings.lr)
    final = torch.zeros(n, len(sites), anatomy.hidden_size)
    result = TargetResult(init=torch.zeros(n, anatomy.hidden_size), delta=torch.zeros(n, anatomy.hidden_size))
    result.iterations, result.losses = [0] * n, [float("nan")] * n
    active = torch.ones(n, dtype=torch.bool)
    nll_weight = torch.ones(n, device=device)
    init = base_logprobs = kl_weight = suffix = None
    for iteration in range(settings.steps):
        rows = torch.nonzero(active[problem.row_request]).squeeze(1)
        step = _forward(anatomy, problem, rows, delta, sites, init is None, suffix, settings.loss_layer)
        result.forward_passes += 1
        if init is None:
            if settings.reuse_frozen and settings.steps > 1:
                suffix, result.partial_forward = _suffix_forward(anatomy, problem, sites, delta, step, settings)
            init = step["init"].detach().float()
            base_logprobs = step["kl_logprobs"].detach()
            kl_weight = _kl_weights(problem, base_logprobs, n)
        losses, kl, at_argmax = _losses(
            step, problem, rows, delta, init, (base_logprobs, kl_weight), active, nll_weight, settings
        )
        _check_finite(losses, "target-vector loss")
        requests_now = torch.nonzero(active).squeeze(1)
        done = _finished(losses, kl, at_argmax, iteration == settings.steps - 1, settings)
        nll_weight[requests_now.to(device)] = torch.where(at_argmax, settings.argmax_nll_factor, 1.0)
        for position, request in enumerate(requests_now.tolist()):
            result.iterations[request] += 1
            result.losses[request] = float(losses[position].detach())
            if done[position]:
                final[request] = delta[request].detach().cpu()
                active[request] = False
        if not active.any():
            break
        optimiser.zero_grad()
        losses[~done.to(losses.device)].sum().backward()
        result.backward_passes += 1
        optimiser.step()
        _clamp(delta, init, active, settings.clamp_norm_factor)
    _check_finite(final, "target vector")
    init = init.cpu()
    result.init, result.delta = init[:, 0], final[:, 0]
    result.joint = {other: init[:, j] + final[:, j] for j, other in enumerate(sites[1:], start=1)}
    return result


def _finished(
    losses: torch.Tensor, kl: torch.Tensor, at_argmax: torch.Tensor, last: bool, settings: TargetSettings
) -> torch.Tensor:
    """Which active requests stop now: a small loss, the last iteration, or (PMET) argmax reached and κ·KL small."""
    done = (losses.detach().cpu() < settings.early_stop_loss) | last
    if settings.argmax_kl_stop is not None:
        done |= (at_argmax & (kl.detach() <= settings.argmax_kl_stop)).cpu()
    return done


def _kl_weights(problem: _Problem, base_logprobs: torch.Tensor, n: int) -> torch.Tensor:
    """Weight of each KL row in its request's mean: 0 where the unedited model predicts the old object there."""
    keep = (base_logprobs.argmax(-1).cpu() != problem.kl_old).float()
    counts = torch.zeros(n).index_add(0, problem.kl_request, keep)
    return (keep / counts[problem.kl_request].clamp(min=1)).to(base_logprobs.device)


def _build_problem(
    tokenizer: PreTrainedTokenizerBase,
    requests: Sequence[EditRequest],
    templates: Sequence[str],
    settings: TargetSettings,
    answer: Callable[[EditRequest], str],
) -> _Problem:
    ids, row_request, lookup = [], [], []
    label_row, label_col, label_token, label_weight = [], [], [], []
    first_row, kl_row, kl_request, kl_col, kl_old = [], [], [], [], []
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
        for kl_prompt in settings.kl_prompts:
            prompt = encode(tokenizer, fill(kl_prompt, request.subject))
            fact = token_index(tokenizer, kl_prompt, request.subject, settings.fact_token)
            kl_row.append(len(ids))
            kl_request.append(i)
            kl_col.append(fact if settings.kl_position == "fact_token" else len(prompt) - 1)
            kl_old.append(_old_token(tokenizer, kl_prompt, request) if settings.kl_position == "last" else -1)
            ids.append(prompt)
            row_request.append(i)
            lookup.append(fact)
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
        kl_request=as_long(kl_request),
        kl_col=as_long(kl_col),
        kl_old=as_long(kl_old),
        first_row=as_long(first_row),
    )


def _old_token(tokenizer: PreTrainedTokenizerBase, kl_prompt: str, request: EditRequest) -> int:
    """The first token of the request's old object continuing ``kl_prompt`` (-1 when the old object is unknown)."""
    if request.target_true is None:
        return -1
    return target_ids(tokenizer, fill(kl_prompt, request.subject), request.target_true)[1][0]


def _forward(
    anatomy: Anatomy,
    problem: _Problem,
    rows: torch.Tensor,
    delta: torch.Tensor,
    sites: Sequence[Site],
    capture_init: bool,
    suffix: SuffixForward | None = None,
    loss_layer: int | None = None,
) -> dict[str, torch.Tensor]:
    """One batched forward over ``rows`` with each site's δ added; logits only at labelled positions and KL
    tokens. With ``suffix``, only the part that δ can change is computed. With ``loss_layer`` below the last layer,
    the labels' logits are that layer's output read through the final norm and unembedding."""
    device = delta.device
    new_index = torch.full((len(problem.row_request),), -1, dtype=torch.long)
    new_index[rows] = torch.arange(len(rows))
    positions = problem.lookup[rows].to(device)
    if suffix is not None:
        positions = positions - suffix.split[rows.to(device)]
    labels = torch.nonzero(new_index[problem.label_row] >= 0).squeeze(1)
    kl_now = new_index[problem.kl_row] >= 0
    select_rows = torch.cat([new_index[problem.label_row[labels]], new_index[problem.kl_row[kl_now]]])
    select_cols = torch.cat([problem.label_col[labels], problem.kl_col[kl_now]])
    row_delta = delta[problem.row_request[rows].to(device)]
    with ExitStack() as stack:
        records = stack.enter_context(capture(anatomy, sites, positions)) if capture_init else {}
        for j, site in enumerate(sites):
            stack.enter_context(add_at_positions(anatomy, site, positions, row_delta[:, j]))
        lens_site = None
        if loss_layer is not None and loss_layer != anatomy.num_layers - 1:
            lens_site = Site(Component.BLOCK_OUTPUT, loss_layer)  # after the δ hooks: it sees their effect
            lens = stack.enter_context(capture(anatomy, [lens_site], detach=False))
        if suffix is None:
            logits = logits_at(anatomy.model, problem.batch.select(rows).to(device), select_rows, select_cols)
        else:
            logits = suffix.logits_at(rows, select_rows, select_cols)
    step = {"labels": labels, "logits": logits[: len(labels)], "kl_logprobs": logits[len(labels) :].log_softmax(-1)}
    if lens_site is not None:
        label_cols = problem.label_col[labels].to(device)
        if suffix is not None:
            label_cols = label_cols - suffix.split[problem.label_row[labels].to(device)]
        step["logits"] = lens_logits(anatomy, lens[lens_site][select_rows[: len(labels)].to(device), label_cols])
    if capture_init:
        step["init"] = torch.stack([records[site][new_index[problem.first_row]] for site in sites], dim=1)
    return step


def _suffix_forward(
    anatomy: Anatomy,
    problem: _Problem,
    sites: Sequence[Site],
    delta: torch.Tensor,
    full: dict[str, torch.Tensor],
    settings: TargetSettings,
) -> tuple[SuffixForward | None, str]:
    """The forward restricted to what δ can change (tokens from the fact token on, layers from the site's on), if
    it reproduces ``full`` — the first step's full forward over every row, at the same δ — else None; and why."""
    if problem.batch.images is not None:
        return None, "images in the batch"
    read_rows = torch.cat([problem.label_row, problem.kl_row])
    if (torch.cat([problem.label_col, problem.kl_col]) < problem.lookup[read_rows]).any():
        return None, "a loss position before the fact token"
    try:
        device = delta.device
        suffix = SuffixForward.prepare(
            anatomy, problem.batch.to(device), problem.lookup, min(site.layer for site in sites)
        )
        with torch.no_grad():
            every_row = torch.arange(len(problem.row_request))
            check = _forward(anatomy, problem, every_row, delta, sites, False, suffix, settings.loss_layer)
    except Exception as err:  # an architecture whose forward does not take a cache or explicit positions
        return None, f"{type(err).__name__}: {err}"
    for name in ("logits", "kl_logprobs"):
        expected = full[name].detach()
        if check[name].shape != expected.shape or not logits_close(check[name], expected):
            return None, f"the partial forward's {name} differ from the full forward's"
    return suffix, "checked"


def _losses(
    step: dict[str, torch.Tensor],
    problem: _Problem,
    rows: torch.Tensor,
    delta: torch.Tensor,
    init: torch.Tensor,
    base: tuple[torch.Tensor, torch.Tensor],
    active: torch.Tensor,
    nll_weight: torch.Tensor,
    settings: TargetSettings,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Loss of each active request, in request order; also its κ·KL term and whether the target is the argmax at
    every label. ``base`` holds the unedited model's KL distributions and each KL row's weight in its request's mean."""
    device = delta.device
    labels = step["labels"]
    label_tokens = problem.label_token[labels].to(device)
    token_logprobs = step["logits"].log_softmax(-1).gather(1, label_tokens[:, None])
    row_nll = torch.zeros(len(problem.row_request), device=device).index_add(
        0, problem.label_row[labels].to(device), -token_logprobs[:, 0] * problem.label_weight[labels].to(device)
    )
    requests_now = torch.nonzero(active).squeeze(1)
    kl_now = torch.nonzero(active[problem.kl_request]).squeeze(1)
    rewrite_rows = problem.row_request[rows][: len(rows) - len(kl_now)]  # KL rows come last
    per_request = torch.zeros(len(active), device=device).index_add(
        0, rewrite_rows.to(device), row_nll[rows[: len(rewrite_rows)].to(device)]
    )
    templates = torch.bincount(rewrite_rows, minlength=len(active)).to(device)
    nll = (per_request / templates.clamp(min=1))[requests_now.to(device)]
    misses = torch.zeros(len(active), device=device).index_add(
        0,
        problem.row_request[problem.label_row[labels]].to(device),
        (step["logits"].argmax(-1) != label_tokens).float(),
    )
    logprobs = step["kl_logprobs"]
    base_logprobs, kl_weight = (tensor[kl_now.to(tensor.device)] for tensor in base)
    row_kl = kl_weight * (logprobs.exp() * (logprobs - base_logprobs)).sum(-1)
    kl_sum = torch.zeros(len(active), device=device).index_add(0, problem.kl_request[kl_now].to(device), row_kl)
    kl = settings.kl_factor * kl_sum[requests_now.to(device)]
    decay = delta[requests_now].norm(dim=-1) / init[requests_now].norm(dim=-1) ** 2  # (requests, sites)
    loss = nll_weight[requests_now.to(device)] * nll + kl + settings.weight_decay * decay.sum(-1)
    return loss, kl, (misses == 0)[requests_now.to(device)]


@torch.no_grad()
def _clamp(delta: torch.Tensor, init: torch.Tensor, active: torch.Tensor, factor: float) -> None:
    """Each site's δ of each active request back inside ``factor`` times its own site's ‖init‖."""
    limit = factor * init.norm(dim=-1, keepdim=True)
    norms = delta.norm(dim=-1, keepdim=True)
    scale = torch.where(norms > limit, limit / norms.clamp(min=1e-12), torch.ones_like(norms))
    delta.mul_(torch.where(active.to(delta.device)[:, None, None], scale, torch.ones_like(scale)))


def _check_finite(tensor: torch.Tensor, what: str) -> None:
    if not torch.isfinite(tensor).all():
        raise EditFailed(f"the {what} became non-finite (NaN or inf)")
