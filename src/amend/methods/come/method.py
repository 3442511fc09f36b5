"""CoME (spec §5): a transformation of the target vector z; the base method's update writes the result unchanged.

For each request, with δ the base's optimised vector (toward the new object) and h₀ the site's value:

1. δ′ is optimised the same way toward the *old* object (⌊N/2⌋ iterations; N with PMET): the direction that
   makes the model more sure of the outdated fact.
2. ĉ = unit(δ/‖δ‖ + δ′/‖δ′‖) bisects the two; δ″ = (δ′·ĉ) ĉ is the part of δ′ they share (the paper's "linguistic"
   content, kept rather than unlearned).
3. On the coordinates where z₀ = h₀ + δ is at or above its k-th smallest value, k = ⌊(1−p)·d⌋ (the top ≈ p by
   signed value), z = z₀ − a·δ′ + δ″ (reference code) or z₀ − a·(δ′ − δ″) (the paper); elsewhere z = z₀.

Guard (the reference divides by zero here): when δ′ = 0 — the model already gives the old object with a loss below
the early-stop threshold, so its optimisation stops at once — there is nothing to unlearn and z = z₀. When δ = 0
the shared direction is undefined and δ″ = 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

from amend.architectures import Site
from amend.changes import Journal
from amend.errors import EditFailed, RecordError
from amend.methods.alphaedit.method import AlphaEdit
from amend.methods.base import EditMethod
from amend.methods.come.config import ComeConfig
from amend.methods.locate.batch import BatchLocateMethod, new_object, old_object
from amend.methods.locate.target import TargetResult
from amend.methods.memit.method import Memit
from amend.methods.pmet.method import Pmet
from amend.requests import EditRequest


def conflict_free_targets(
    init: torch.Tensor,
    delta: torch.Tensor,
    old_delta: torch.Tensor,
    *,
    unlearn_weight: float,
    top_p: float,
    scale_shared: bool = False,
) -> torch.Tensor:
    """CoME's z for each row of (n, d) tensors: see the module docstring. Never NaN for finite inputs."""
    start = init + delta
    both = ((delta.norm(dim=-1) > 0) & (old_delta.norm(dim=-1) > 0))[:, None]
    bisector = _unit(_unit(delta) + _unit(old_delta)) * both
    shared = (old_delta * bisector).sum(-1, keepdim=True) * bisector
    kept = unlearn_weight * shared if scale_shared else shared  # −a·(δ′ − δ″) = −a·δ′ + a·δ″
    change = -unlearn_weight * old_delta + kept
    k = max(1, int((1 - top_p) * start.shape[-1]))
    threshold = start.kthvalue(k, dim=-1, keepdim=True).values
    return torch.where(start >= threshold, start + change, start)


def _unit(vectors: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit norm; zero rows stay zero."""
    norms = vectors.norm(dim=-1, keepdim=True)
    return torch.where(norms > 0, vectors / norms.clamp(min=torch.finfo(vectors.dtype).tiny), 0.0)


class ComeTargets(BatchLocateMethod):
    """Replaces a MEMIT-family method's targets by CoME's; put before the base class in the bases."""

    config: ComeConfig

    def targets(self, requests: Sequence[EditRequest], templates: list[str], site: Site) -> TargetResult:
        for request in requests:
            if request.target_true is None:
                raise RecordError(request.record_id, "target_true", "CoME needs the old object to unlearn it")
        config = self.config
        old = self.optimise(requests, templates, site, config.old_target_settings(), old_object)
        new = self.optimise(requests, templates, site, config.target_settings(), new_object)
        z = conflict_free_targets(
            new.init,
            new.delta,
            old.delta,
            unlearn_weight=config.unlearn_weight,
            top_p=config.top_p,
            scale_shared=config.scale_shared,
        )
        if not torch.isfinite(z).all():
            raise EditFailed("CoME's target vector is not finite")
        self.log.update(
            old_target_iterations=old.iterations,
            old_target_losses=old.losses,
            unlearned=int((old.delta.norm(dim=-1) > 0).sum()),
        )
        return dataclasses.replace(
            new,
            delta=z - new.init,
            forward_passes=new.forward_passes + old.forward_passes,
            backward_passes=new.backward_passes + old.backward_passes,
        )


class ComeMemit(ComeTargets, Memit):
    pass


class ComeAlphaEdit(ComeTargets, AlphaEdit):
    pass


class ComePmet(ComeTargets, Pmet):
    pass


COMPOSED: dict[str, type[BatchLocateMethod]] = {"memit": ComeMemit, "alphaedit": ComeAlphaEdit, "pmet": ComePmet}


class Come(EditMethod):
    """``method="come"``: CoME on the base named by ``config.base``, writing through that base's update rule."""

    name = "come"
    config_cls = ComeConfig
    config: ComeConfig

    def write(self, requests: Sequence[EditRequest], journal: Journal) -> None:
        composed = COMPOSED[self.config.base](self.model, self.tokenizer, self.config, self.resources)
        composed.write(requests, journal)
        self.log.update(composed.log, base=self.config.base)
