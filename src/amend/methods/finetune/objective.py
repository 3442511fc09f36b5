"""The loss the fine-tuning baselines minimise over a batch of requests.

``target`` is the mean NLL of each request's target tokens, teacher-forced after its prompt (EasyEdit's FT-M, the
ROME code's FT, and LoRA here). ``prompt_last`` is EasyEdit's FT-L objective: every target token is scored at the
*last prompt position*, as if each were the next token (a bag of target tokens at one position; its reliability
is then usually read for the first token only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from amend.forward import logits_at
from amend.prompting import PromptEncoder, prompt_encoder
from amend.requests import EditRequest, MultimodalRequest
from amend.tokens import Batch

OBJECTIVES = ("target", "prompt_last")


@dataclass(frozen=True)
class Objective:
    """A batch of requests made into one padded forward and the positions and tokens its loss reads."""

    batch: Batch
    rows: torch.Tensor  # row of each scored token
    cols: torch.Tensor  # position whose logits score it
    tokens: torch.Tensor  # the token scored
    owner: torch.Tensor  # request of each scored token (per-request means, then the batch mean)
    requests: int

    @classmethod
    def build(
        cls,
        encoder: PromptEncoder | Any,
        requests: Sequence[EditRequest | MultimodalRequest],
        kind: str,
        device: torch.device,
    ) -> Objective:
        """The objective of ``requests``, their prompts (text, or questions about images) encoded by ``encoder`` (or
        by a tokenizer's :func:`~amend.prompting.prompt_encoder`)."""
        encoder = prompt_encoder(encoder)
        if kind not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {kind!r}")
        rows, images, rows_at, cols, tokens, owner = [], [], [], [], [], []
        for i, request in enumerate(requests):
            encoded, target = encoder.pair(request.asked, request.target_new)
            prompt = list(encoded.ids)
            rows.append(prompt + target[:-1] if kind == "target" else prompt)
            images.append(encoded.images)
            for j, token in enumerate(target):
                rows_at.append(i)
                cols.append(len(prompt) - 1 + (j if kind == "target" else 0))
                tokens.append(token)
                owner.append(i)
        as_long = lambda values: torch.tensor(values, dtype=torch.long, device=device)  # noqa: E731
        batch = encoder.batch(rows, images).to(device)
        return cls(batch, as_long(rows_at), as_long(cols), as_long(tokens), as_long(owner), len(requests))

    def loss(self, model: torch.nn.Module) -> torch.Tensor:
        """Mean over requests of each request's mean NLL of its scored tokens."""
        logits = logits_at(model, self.batch, self.rows, self.cols)
        nll = torch.nn.functional.cross_entropy(logits, self.tokens, reduction="none")
        per_request = torch.zeros(self.requests, device=nll.device).index_add(0, self.owner, nll)
        counts = torch.zeros(self.requests, device=nll.device).index_add(0, self.owner, torch.ones_like(nll))
        return (per_request / counts).mean()


def minimise(
    objective: Objective,
    model: torch.nn.Module,
    parameters: Sequence[torch.Tensor],
    *,
    steps: int,
    lr: float,
    weight_decay: float = 0.0,
    after_step: Callable[[], None] | None = None,
) -> list[float]:
    """``steps`` Adam steps on ``objective``'s loss over ``parameters`` (``after_step`` runs after each: a projection
    such as FT-L's bound); returns the loss before each step."""
    optimiser = torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    losses = []
    for _ in range(steps):
        loss = objective.loss(model)
        if not torch.isfinite(loss):
            raise FloatingPointError("the fine-tuning loss is not finite")
        losses.append(float(loss.detach()))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if after_step is not None:
            with torch.no_grad():
                after_step()
    return losses
