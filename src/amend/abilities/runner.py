"""``amend abilities``: general abilities against the number of edits, in one sequential run.

The run edits the requests in order, in batches of ``edit_batch_size`` that never cross a checkpoint, and measures
every ability before any edit and again after ``counts[0]``, ``counts[1]`` … edits. Each checkpoint continues the
same run: the model is never re-edited from scratch, and because batches sit at fixed positions a checkpoint gives
what a run stopped at that count gives (a test checks it). With a run folder the editor and the measurements so far
are saved after every checkpoint, and ``resume=True`` continues from the last one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from amend.abilities.base import Ability
from amend.changes import revert_all
from amend.editing import Editor, as_requests
from amend.errors import ConfigError, RunMismatch
from amend.evaluation.report import run_metadata, save_run
from amend.evaluation.runner import EditSetup, describe
from amend.evaluation.sequential import setting_differences
from amend.lm import LanguageModel, language_model
from amend.methods import load_method

DEFAULT_COUNTS = (1, 5, 10, 20, 50, 100, 500, 1000)
"""Li et al.'s edit counts."""
SAMPLES_DIR = "samples"


@dataclass(frozen=True)
class AbilitySettings:
    """How an abilities run proceeds.

    Attributes:
        counts: Numbers of edits after which the abilities are measured (0, before any edit, is always measured);
            each a multiple of ``edit_batch_size``.
        edit_batch_size: Requests per edit (1: one fact at a time, as Li et al. edit with ROME).
        run_dir: Where the run saves itself after every checkpoint; None keeps nothing.
        resume: Continue the run saved in ``run_dir``.
        forward_batch_size: Prompts per forward pass when measuring.
        progress: Show a progress bar.
    """

    counts: tuple[int, ...] = DEFAULT_COUNTS
    edit_batch_size: int = 1
    run_dir: Path | None = None
    resume: bool = False
    forward_batch_size: int = 64
    progress: bool = True

    def __post_init__(self) -> None:
        counts = tuple(sorted(set(int(c) for c in self.counts)))
        object.__setattr__(self, "counts", counts)
        if not counts or counts[0] < 1:
            raise ConfigError("counts must be positive numbers of edits")
        if self.edit_batch_size < 1:
            raise ConfigError("edit_batch_size must be positive")
        uneven = [c for c in counts if c % self.edit_batch_size]
        if uneven:
            raise ConfigError(
                f"counts {uneven} are not multiples of the edit batch size {self.edit_batch_size}: a checkpoint "
                "inside a batch would not be what a run stopped there gives"
            )
        if self.resume and self.run_dir is None:
            raise ConfigError("resume needs the run directory of the interrupted run")


@dataclass
class AbilityRun:
    """What an abilities run measured.

    Attributes:
        method: The editing method.
        config: Its config as used.
        model: The model's description (name, type, fingerprint of the unedited weights …).
        abilities: Each ability's description (name, metric, items).
        checkpoints: Per checkpoint: ``edits``, ``edit_seconds`` (editing time so far), ``abilities`` ({name:
            {metric, score, n, details…}}).
        samples: Per checkpoint and item: what the model produced and its value.
    """

    method: str
    config: dict[str, Any]
    model: dict[str, Any]
    abilities: list[dict[str, Any]]
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def scores(self, ability: str) -> list[tuple[int, float]]:
        """(edits, score) of one ability at every checkpoint."""
        return [(c["edits"], c["abilities"][ability]["score"]) for c in self.checkpoints]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "abilities",
            **run_metadata(),
            "method": self.method,
            "config": self.config,
            "model": self.model,
            "abilities": self.abilities,
            "checkpoints": self.checkpoints,
            "extra": self.extra,
        }

    def save(self, out_dir: str | Path) -> Path:
        """Write ``abilities_<date>.json`` and ``samples_<date>.jsonl`` into ``out_dir``; returns the first."""
        return save_run(out_dir, "abilities", self.to_dict(), self.samples)


AbilitiesLike = Sequence[Ability] | Callable[[LanguageModel], Sequence[Ability]]
"""The abilities, or a function of the unedited model that builds them (known facts are chosen by it)."""


def run_abilities(
    model,
    tokenizer,
    requests: Sequence[Any],
    setup: EditSetup,
    abilities: AbilitiesLike,
    settings: AbilitySettings | None = None,
) -> AbilityRun:
    """Edit ``requests`` in order with ``setup`` and measure ``abilities`` at 0 edits and at every count."""
    settings = settings or AbilitySettings()
    requests = as_requests(list(requests))
    if settings.counts[-1] > len(requests):
        raise ConfigError(f"counts go up to {settings.counts[-1]} edits but only {len(requests)} requests are given")
    lm = language_model(model, tokenizer, batch_size=settings.forward_batch_size, progress=False)
    method_cls = load_method(setup.method)
    observed = method_cls.observed(lm, model, setup.config)
    built = list(abilities(lm) if callable(abilities) else abilities)
    names = [a.name for a in built]
    if len(set(names)) != len(names):
        raise ConfigError(f"two abilities share a name: {names}")
    run = AbilityRun(method_cls.name, setup.config.to_dict(), describe(model), [a.describe() for a in built])
    recorded = _settings_record(run, settings)
    editor, done = _start(model, tokenizer, setup, settings, recorded, run, requests)
    try:
        _continue(editor, observed, requests, built, settings, run, done, recorded)
    finally:
        run.config = editor.config_record() or run.config
        editor.revert()
    return run


def _continue(editor, lm, requests, abilities, settings: AbilitySettings, run: AbilityRun, done: int, recorded):
    targets = [0, *settings.counts]
    measured = {c["edits"] for c in run.checkpoints}
    bar = tqdm(total=len(targets), initial=len(measured), desc=f"{run.method} abilities", disable=not settings.progress)
    seconds = run.checkpoints[-1]["edit_seconds"] if run.checkpoints else 0.0
    for target in targets:
        if target in measured:
            continue
        for start in range(done, target, settings.edit_batch_size):
            began = time.perf_counter()
            editor.edit(requests[start : start + settings.edit_batch_size])
            seconds += time.perf_counter() - began
        done = target
        began = time.perf_counter()
        results = [ability.evaluate(lm) for ability in abilities]
        run.checkpoints.append(
            {
                "edits": target,
                "edit_seconds": round(seconds, 3),
                "measure_seconds": round(time.perf_counter() - began, 3),
                "abilities": {r.name: r.summary() for r in results},
            }
        )
        samples = [{"edits": target, "ability": r.name, **s} for r in results for s in r.samples]
        run.samples += samples
        if settings.run_dir is not None:
            _save(editor, settings.run_dir, run, recorded, samples, requests[:target])
        bar.update(1)
    bar.close()


def _settings_record(run: AbilityRun, settings: AbilitySettings) -> dict[str, Any]:
    """What decides the run's numbers besides the requests: recorded in the run folder, compared on resume (the
    counts may grow: a resumed run can go on to more edits)."""
    return {
        "method": run.method,
        "config": run.config,
        "edit_batch_size": settings.edit_batch_size,
        "abilities": run.abilities,
        "model": run.model["fingerprint"],
    }


def requests_digest(requests: Sequence[Any]) -> str:
    """A digest of requests in order (a resumed run must continue the edits it made)."""
    records = json.dumps([{"kind": r.kind, **r.to_dict()} for r in requests], sort_keys=True, default=str)
    return hashlib.sha256(records.encode()).hexdigest()


def _save(editor: Editor, run_dir: Path, run: AbilityRun, recorded, samples, edited: Sequence[Any]) -> None:
    target = len(edited)
    folder = Path(run_dir) / SAMPLES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{target:06d}.jsonl").open("w") as file:
        for sample in samples:
            file.write(json.dumps(sample, default=str) + "\n")
    extra = {"settings": recorded, "checkpoints": run.checkpoints, "edited_sha256": requests_digest(edited)}
    editor.save(run_dir, extra=extra)


def _start(model, tokenizer, setup: EditSetup, settings: AbilitySettings, recorded, run: AbilityRun, requests):
    """A new editor, or (``resume``) the saved one with the checkpoints measured so far; returns it and the number
    of requests it has edited."""
    run_dir = settings.run_dir
    saved = run_dir is not None and (Path(run_dir) / "editor.json").exists()
    if not settings.resume or not saved:
        if saved:
            raise ConfigError(f"{run_dir} holds a run already; resume it or choose another directory")
        return setup.editor(model, tokenizer), 0
    extra = Editor.saved_extra(run_dir)
    differences = setting_differences(extra.get("settings") or {}, recorded)
    if differences:
        raise RunMismatch(f"cannot resume {run_dir} with other settings:\n  " + "\n  ".join(differences))
    checkpoints = extra.get("checkpoints")
    if not isinstance(checkpoints, list) or not checkpoints:
        raise RunMismatch(f"{run_dir}: the saved run records no checkpoint")
    done = int(checkpoints[-1]["edits"])
    if extra.get("edited_sha256") != requests_digest(requests[:done]):
        raise RunMismatch(f"cannot resume {run_dir}: its {done} edits are not the first {done} requests given")
    skipped = [c for c in settings.counts if c < done and c not in {int(k["edits"]) for k in checkpoints}]
    if skipped:
        raise RunMismatch(f"{run_dir} is past {done} edits: counts {skipped} can no longer be measured in it")
    editor = Editor.load(run_dir, model, tokenizer, cache_dir=setup.cache_dir, corpus=setup.corpus)
    if sum(len(p.requests) for p in editor.patches) != done:
        revert_all(editor.patches)
        raise RunMismatch(f"{run_dir}: the saved patches do not hold the {done} edits its checkpoints record")
    run.checkpoints = checkpoints
    for checkpoint in checkpoints:
        file = Path(run_dir) / SAMPLES_DIR / f"{int(checkpoint['edits']):06d}.jsonl"
        if file.exists():
            run.samples += [json.loads(line) for line in file.read_text().splitlines() if line]
    return editor, done
