"""Settings shared by the locate-then-edit family (ROME, MEMIT, AlphaEdit, CoME, EMMET, PMET)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from amend.errors import ConfigError
from amend.methods.config import MethodConfig, option
from amend.methods.locate.target import TargetSettings
from amend.stats import StatsSettings


@dataclasses.dataclass(frozen=True)
class LocateConfig(MethodConfig):
    """Target-vector optimisation (spec §0.4), context templates (§0.1) and covariance statistics (§0.5)."""

    PATH_FIELDS: ClassVar[tuple[str, ...]] = ("stats_corpus",)

    v_num_grad_steps: int = option(20, "Iterations of the target-vector optimisation (at most N-1 Adam steps).")
    v_lr: float = option(0.5, "Adam learning rate of the target-vector optimisation.")
    v_weight_decay: float = option(0.5, "Weight of the decay term ‖δ‖/‖h₀‖² (un-squared norm, as the originals).")
    clamp_norm_factor: float = option(4.0, "δ is rescaled to at most this multiple of ‖h₀‖ after every step.")
    kl_factor: float = option(0.0625, "Weight κ of the mean KL(p_δ‖p_0) over the KL prompts (kl_prompts).")
    early_stop_loss: float = option(0.05, "A request's optimisation stops once its loss is below this.")
    argmax_nll_factor: float = option(
        1.0, "Weight of the NLL while the target is already the argmax at every label (PMET 0.1; 1: no such rule)."
    )
    argmax_kl_stop: float | None = option(
        None, "Stop once the target is the argmax everywhere and κ·KL is at most this (PMET 0.01; None: never)."
    )
    v_requests_per_pass: int = option(
        16, "Requests whose targets are optimised in one batched pass (speed and memory only; results are the same)."
    )
    v_reuse_frozen: bool = option(
        True,
        "Compute once what the target vector cannot change (tokens before the fact token, layers below the site) "
        "and run only the rest in later steps, after checking once that it matches the full forward; False runs "
        "the whole network every step (same vectors up to float rounding, slower).",
    )
    v_loss_layer: int | None = option(
        None,
        "Layer whose output the target's NLL reads through the final norm and unembedding (the originals' "
        "v_loss_layer); None: the last layer, i.e. the model's own logits (the originals' default).",
    )
    kl_prompts: tuple[str, ...] = option(
        ("{} is a",), "Prompts about the subject whose distributions the KL term preserves (ROME: the essence prompt)."
    )
    kl_position: str = option(
        "fact_token",
        "Where a KL prompt's distribution is taken: 'fact_token' (the reference: the subject's last token) or "
        "'last' (the next token after the prompt; a prompt predicting the request's old object is then left out).",
    )
    fact_token: str = option("subject_last", "Token whose key is edited: subject_last, subject_first or last.")
    context_templates: tuple[str, ...] | None = option(
        None,
        "Explicit context templates, each with '{}' for the prompt; replaces sampling. The bare prompt is "
        "always added as its own group.",
    )
    template_prompts: tuple[str, ...] | None = option(
        None, "Texts the context templates are sampled from; None samples from the BOS/EOS token (ROME)."
    )
    template_lengths: tuple[tuple[int, int], ...] = option(
        ((10, 5), (10, 10)), "(samples per template prompt, total length in tokens) pairs for sampled templates."
    )
    template_seed: int = option(0, "Seed of template sampling (the originals do not seed it).")
    stats_corpus: str = option(
        "hf:wikimedia/wikipedia:20231101.en", "Corpus of the key statistics: a text file or hf:NAME[:CONFIG]."
    )
    stats_tokens: int = option(10_000_000, "Token budget of the key statistics.")
    stats_max_length: int | None = option(None, "Documents are truncated to this many tokens (None: context).")
    stats_dtype: str = option("float64", "Accumulation dtype of the statistics (float32 matches the originals).")
    stats_sample_seed: int | None = option(
        1,
        "Seed of the random order the statistics' documents are drawn in until stats_tokens are spent (the "
        "originals draw a seeded random sample); None takes the corpus's first documents.",
    )
    warn_written_below: float = option(
        0.5,
        "Warn (WeakEditWarning) when a batched edit moves a request's value less than this fraction of the way to its "
        "target (the MEMIT family; ROME writes its target exactly by construction).",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        positive = ("v_num_grad_steps", "v_lr", "clamp_norm_factor", "v_requests_per_pass", "stats_tokens")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("v_weight_decay", "kl_factor", "early_stop_loss", "argmax_nll_factor", "mom2_update_weight"):
            if getattr(self, name, 0) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)!r}")
        self.stats_settings()  # refuses an integer stats_dtype or a non-positive budget now, before any work
        if self.kl_position not in {"fact_token", "last"}:
            raise ConfigError(f"kl_position must be 'fact_token' or 'last', not {self.kl_position!r}")
        if not self.kl_prompts or any("{}" not in prompt for prompt in self.kl_prompts):
            raise ConfigError(f"kl_prompts must be prompts with '{{}}' for the subject, not {self.kl_prompts!r}")

    def target_settings(self) -> TargetSettings:
        return TargetSettings(
            steps=self.v_num_grad_steps,
            lr=self.v_lr,
            weight_decay=self.v_weight_decay,
            clamp_norm_factor=self.clamp_norm_factor,
            kl_factor=self.kl_factor,
            early_stop_loss=self.early_stop_loss,
            argmax_nll_factor=self.argmax_nll_factor,
            argmax_kl_stop=self.argmax_kl_stop,
            requests_per_pass=self.v_requests_per_pass,
            reuse_frozen=self.v_reuse_frozen,
            loss_layer=self.v_loss_layer,
            kl_prompts=tuple(self.kl_prompts),
            kl_position=self.kl_position,
            fact_token=self.fact_token,
        )

    def stats_settings(self) -> StatsSettings:
        return StatsSettings(
            token_budget=self.stats_tokens,
            max_length=self.stats_max_length,
            dtype=self.stats_dtype,
            sample_seed=self.stats_sample_seed,
        )
