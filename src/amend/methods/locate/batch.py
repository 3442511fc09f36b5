"""The batched, multi-layer editing loop the MEMIT family shares (spec §2).

1. The target z of every request is optimised once, at the residual stream of the last edited layer L.
2. For each edited layer ℓ_i, in order: keys K and the current residual H (block-L output on the bare prompts) are
   recomputed with the model *as partially edited so far*; the remaining residual R = (Z − H)/(m − i) is spread
   evenly over the layers left; the method's update rule turns (K, R) into ΔW_ℓ, applied at once.

Methods state only their update rule (:meth:`BatchLocateMethod.layer_update`) and, if they keep state across
batches, what they do after a batch (:meth:`BatchLocateMethod.after_batch`). PMET changes where the target lives
(:meth:`~BatchLocateMethod.target_site`), how it is optimised (:meth:`~BatchLocateMethod.optimise`) and the split
(:meth:`~BatchLocateMethod.residual_share`); CoME transforms the targets (:meth:`~BatchLocateMethod.targets`).
"""

from __future__ import annotations

import time
import warnings
from abc import abstractmethod
from collections.abc import Callable, Sequence

import torch

from amend.architectures import Component, Site
from amend.changes import Journal, WeightDelta
from amend.methods.base import EditMethod
from amend.methods.locate.common import context_templates, key_covariances
from amend.methods.locate.keys import bare_values, subject_keys
from amend.methods.locate.target import TargetResult, TargetSettings, optimise_targets
from amend.requests import EditRequest


class BatchLocateMethod(EditMethod):
    """Base of MEMIT, AlphaEdit and the methods that keep MEMIT's loop but change its update rule."""

    def write(self, requests: Sequence[EditRequest], journal: Journal) -> None:
        config = self.config
        layers = sorted(config.layers)
        last = layers[-1]
        templates = context_templates(self, config)
        self.covariances = key_covariances(self, config, layers)
        started = time.perf_counter()
        site = self.target_site(last)
        targets = self.targets(requests, templates.flat(), site)
        target_seconds = time.perf_counter() - started
        self.keep("target", targets.target)
        self.keep("target_init", targets.init)
        rule = config.fact_token
        unedited = None
        for i, layer in enumerate(layers):
            keys = subject_keys(self.anatomy, self.tokenizer, requests, templates, layer, rule=rule, average="grouped")
            current = bare_values(self.anatomy, self.tokenizer, requests, site, rule=rule)
            unedited = current if unedited is None else unedited
            residual = (targets.target.to(current.device) - current) / self.residual_share(len(layers) - i)
            left, right = self.layer_update(layer, keys.double(), residual.double())
            journal.add(WeightDelta(self.anatomy.mlp_out_proj_name(layer), left.float(), right.float()))
            self.keep(f"keys.{layer}", keys)
            self.keep(f"residual.{layer}", residual)
        final = bare_values(self.anatomy, self.tokenizer, requests, site, rule=rule)
        self.log["written_fraction"] = written_fraction(targets.target.to(final.device), unedited, final).tolist()
        warn_if_weak(requests, self.log["written_fraction"], config.warn_written_below, self.name)
        self.after_batch(requests, templates)
        self.log.update(
            templates=templates.flat(),
            layers=layers,
            target_iterations=targets.iterations,
            target_losses=targets.losses,
            forward_passes=targets.forward_passes,
            backward_passes=targets.backward_passes,
            partial_forward=targets.partial_forward,
            target_seconds=target_seconds,
        )

    def target_site(self, last: int) -> Site:
        """Where z lives and the residual is measured: the residual stream of the last edited layer (PMET: its
        MLP output)."""
        return Site(Component.BLOCK_OUTPUT, last)

    def targets(self, requests: Sequence[EditRequest], templates: list[str], site: Site) -> TargetResult:
        """z for every request (CoME transforms it)."""
        return self.optimise(requests, templates, site, self.config.target_settings(), new_object)

    def optimise(
        self,
        requests: Sequence[EditRequest],
        templates: list[str],
        site: Site,
        settings: TargetSettings,
        answer: Callable[[EditRequest], str],
    ) -> TargetResult:
        """The target optimisation toward ``answer`` at ``site`` and the sites optimised jointly with it."""
        sites = [site, *self.joint_sites(site)]
        return optimise_targets(
            self.anatomy,
            self.tokenizer,
            requests,
            templates,
            sites,
            settings,
            answer=answer,
            progress=self.resources.progress,
        )

    def joint_sites(self, site: Site) -> list[Site]:
        """Sites whose δ is optimised together with the target's but never written (PMET: the attention output)."""
        return []

    def residual_share(self, layers_left: int) -> float:
        """How the residual is split over the layers left: evenly (MEMIT); PMET uses √."""
        return float(layers_left)

    @abstractmethod
    def layer_update(self, layer: int, keys: torch.Tensor, residual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ΔW_ℓ as factors (left (d_out, n), right (n, d_in)) from keys (n, d_in) and residuals (n, d_out), float64."""

    def after_batch(self, requests: Sequence[EditRequest], templates) -> None:
        """Called once every layer of the batch is written (AlphaEdit accumulates its keys here)."""


def new_object(request: EditRequest) -> str:
    return request.target_new


def old_object(request: EditRequest) -> str:
    return request.target_true


class WeakEditWarning(UserWarning):
    """An edit wrote less of its target than the config's ``warn_written_below``: a hyperparameter tuned for
    another model (MEMIT's λ, AlphaEdit's null-space threshold) may be making it a silent no-op."""


def written_fraction(target: torch.Tensor, unedited: torch.Tensor, edited: torch.Tensor) -> torch.Tensor:
    """How much of the way from the unedited value to the target each request's value at the target site moved,
    on its bare prompt: 1 - ‖z − h_edited‖ / ‖z − h_unedited‖ (1: written exactly, 0: not at all)."""
    gap = (target - unedited).norm(dim=-1).clamp_min(1e-12)
    return 1 - (target - edited).norm(dim=-1) / gap


def warn_if_weak(requests: Sequence[EditRequest], fractions: Sequence[float], below: float, method: str) -> None:
    weak = [(request.record_id, fraction) for request, fraction in zip(requests, fractions, strict=True)]
    weak = [(rid, fraction) for rid, fraction in weak if fraction < below]
    if weak:
        shown = ", ".join(f"{rid!r} {fraction:.2f}" for rid, fraction in weak[:5])
        warnings.warn(
            f"{method} wrote less than {below:.0%} of the target of {len(weak)} of {len(requests)} request(s) "
            f"({shown}{', ...' if len(weak) > 5 else ''}): its λ or threshold may not suit this model "
            "(amend ls --method NAME --model DIR shows the values used)",
            WeakEditWarning,
            stacklevel=3,
        )
