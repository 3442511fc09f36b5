"""Sequential (lifelong) editing: batches applied in order without restoring, evaluated two ways.

* **immediate** — each batch's requests right after that batch is written (what most papers call efficacy);
* **retention** — *all* requests edited so far, at checkpoints and at the end (what sequential editing breaks).

Other libraries report one of the two under the same name; amend records both. A run with a directory saves
itself (the editor's patches and state, and its progress) every few batches; ``resume=True`` continues from the
last save and gives the results an uninterrupted run gives, because every step is deterministic.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from amend.changes import revert_all
from amend.editing import Editor
from amend.errors import ConfigError, RunMismatch
from amend.evaluation.observe import Observation, item_values, observe
from amend.evaluation.report import aggregate, named_values
from amend.evaluation.tasks import Item, items_by_request
from amend.lm import LanguageModel
from amend.methods import load_method
from amend.requests import EditRequest

if TYPE_CHECKING:
    from amend.evaluation.runner import EditSetup, EvaluationSettings


@dataclass
class SequentialSettings:
    """How a sequential run proceeds.

    Attributes:
        edit_batch_size: Requests per batch.
        checkpoint_every: Evaluate all edits so far after every this many batches (and always at the end).
        run_dir: Where the run saves itself; ``None`` keeps nothing.
        save_every: Save after every this many batches (with ``run_dir``).
        resume: Continue from the save in ``run_dir``.
    """

    edit_batch_size: int = 1
    checkpoint_every: int = 10
    run_dir: Path | None = None
    save_every: int = 5
    resume: bool = False

    def __post_init__(self) -> None:
        if self.edit_batch_size < 1 or self.checkpoint_every < 1 or self.save_every < 1:
            raise ConfigError("edit_batch_size, checkpoint_every and save_every must be positive")
        if self.resume and self.run_dir is None:
            raise ConfigError("resume needs the run directory of the interrupted run")


@dataclass
class _Progress:
    batches_done: int = 0
    immediate: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)  # item -> values
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # per batch

    def to_dict(self) -> dict[str, Any]:
        return {
            "batches_done": self.batches_done,
            "immediate": self.immediate,
            "checkpoints": self.checkpoints,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: Path) -> _Progress:
        """The progress saved in a run folder (its ``editor.json``), checked field by field."""
        try:
            progress = cls(
                int(data["batches_done"]),
                {int(k): v for k, v in data["immediate"].items()},
                list(data["checkpoints"]),
                [float(s) for s in data["seconds"]],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise RunMismatch(f"{source}: the saved progress is incomplete or malformed ({err!r})") from None
        if progress.batches_done < 0 or len(progress.seconds) != progress.batches_done:
            raise RunMismatch(f"{source}: the saved progress is inconsistent (batches done vs. their timings)")
        return progress


def run_settings(requests: Sequence[Any], setup: EditSetup, evaluation: EvaluationSettings) -> dict[str, Any]:
    """Everything that decides a sequential run's results: recorded in the run folder, compared on resume."""
    records = json.dumps([{"kind": r.kind, **r.to_dict()} for r in requests], sort_keys=True, default=str)
    return {
        "method": load_method(setup.method).name,
        "config": setup.config.to_dict(),
        "edit_batch_size": evaluation.sequential.edit_batch_size,
        "checkpoint_every": evaluation.sequential.checkpoint_every,
        "protocols": list(evaluation.protocols),
        "task": evaluation.task,
        "requests": len(requests),
        "requests_sha256": hashlib.sha256(records.encode()).hexdigest(),
    }


def setting_differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """One line per setting that differs between a saved run and a resume."""
    lines = []
    for name in now:
        if name == "config" and isinstance(saved.get(name), dict):
            fields = sorted(set(saved[name]) | set(now[name]))
            changed = [f for f in fields if _plain(saved[name].get(f)) != _plain(now[name].get(f))]
            lines += [f"config.{f}: saved {saved[name].get(f)!r}, now {now[name].get(f)!r}" for f in changed]
        elif name == "requests_sha256" and saved.get(name) != now[name]:
            lines.append("requests: not the ones the run edits (another --seed, -n, request file or dataset)")
        elif _plain(saved.get(name)) != _plain(now[name]):
            lines.append(f"{name}: saved {saved.get(name)!r}, now {now[name]!r}")
    return lines


def _plain(value: Any) -> Any:
    """JSON's view of a value (a tuple saved is a list read back)."""
    return json.loads(json.dumps(value, default=str))


def run_sequential(
    model,
    tokenizer,
    requests: Sequence[EditRequest],
    items: list[Item],
    before: list[Observation],
    lm: LanguageModel,
    setup: EditSetup,
    evaluation: EvaluationSettings,
) -> tuple[list[Observation], dict[str, Any], list[float], dict[str, Any]]:
    """Run the batches; returns final observations of every item, the config, seconds per request, and extras."""
    settings, protocols, progress = evaluation.sequential, evaluation.protocols, evaluation.progress
    size = settings.edit_batch_size
    batches = [list(range(i, min(i + size, len(requests)))) for i in range(0, len(requests), size)]
    recorded = run_settings(requests, setup, evaluation)
    editor, state = _start(model, tokenizer, setup, settings, recorded)
    by_request = items_by_request(items)
    bar = tqdm(total=len(batches), initial=state.batches_done, desc=f"{editor.method} sequential", disable=not progress)
    for b in range(state.batches_done, len(batches)):
        start = time.perf_counter()
        editor.edit([requests[r] for r in batches[b]])
        state.seconds.append(time.perf_counter() - start)
        indices = [i for r in batches[b] for i in by_request.get(r, [])]
        for i, seen in zip(indices, observe(lm, [items[i] for i in indices], protocols), strict=True):
            state.immediate[i] = named_values(item_values(items[i], seen, before[i], protocols), items[i].kind)
        state.batches_done = b + 1
        edited = batches[b][-1] + 1
        if state.batches_done % settings.checkpoint_every == 0 and state.batches_done < len(batches):
            state.checkpoints.append(_checkpoint(edited, items, before, lm, protocols))
        if settings.run_dir is not None and state.batches_done % settings.save_every == 0:
            editor.save(settings.run_dir, extra={**state.to_dict(), "settings": recorded})
        bar.update(1)
    bar.close()
    after = observe(lm, items, protocols)
    final = _summary(items, after, before, protocols)
    state.checkpoints.append({"edits": len(requests), "summary": final})
    if settings.run_dir is not None:
        editor.save(settings.run_dir, extra={**state.to_dict(), "settings": recorded})
    immediate_values = [state.immediate[i] for i in sorted(state.immediate)]
    _, immediate = aggregate(immediate_values, [items[i].request for i in sorted(state.immediate)])
    per_request = [state.seconds[b] / len(batch) for b, batch in enumerate(batches) for _ in batch]
    config = editor.config_record()
    editor.revert()
    extra = {
        "immediate_summary": immediate,
        "checkpoints": state.checkpoints,
        "edit_batch_size": size,
        "batches": len(batches),
    }
    return after, config, per_request, extra


def _start(
    model, tokenizer, setup: EditSetup, settings: SequentialSettings, recorded: dict[str, Any]
) -> tuple[Editor, _Progress]:
    if settings.resume and (settings.run_dir / "editor.json").exists():
        extra = Editor.saved_extra(settings.run_dir)
        saved = extra.get("settings")
        if not isinstance(saved, dict):
            raise RunMismatch(f"{settings.run_dir} records no settings (an older amend's run?): start a new run")
        differences = setting_differences(saved, recorded)
        if differences:
            raise RunMismatch(
                f"cannot resume {settings.run_dir} with other settings than it was started with:\n  "
                + "\n  ".join(differences)
            )
        progress = _Progress.from_dict(extra, settings.run_dir / "editor.json")
        editor = Editor.load(settings.run_dir, model, tokenizer, cache_dir=setup.cache_dir, corpus=setup.corpus)
        if len(editor.patches) != progress.batches_done:
            revert_all(editor.patches)
            raise RunMismatch(
                f"{settings.run_dir}: {len(editor.patches)} patches saved for {progress.batches_done} batches"
            )
        return editor, progress
    if settings.run_dir is not None and (settings.run_dir / "editor.json").exists():
        raise ConfigError(f"{settings.run_dir} holds a run already; resume it or choose another directory")
    return setup.editor(model, tokenizer), _Progress()


def _checkpoint(edited: int, items, before, lm, protocols) -> dict[str, Any]:
    subset = [i for i, item in enumerate(items) if item.request < edited]
    seen = observe(lm, [items[i] for i in subset], protocols)
    return {
        "edits": edited,
        "summary": _summary([items[i] for i in subset], seen, [before[i] for i in subset], protocols),
    }


def _summary(items, after, before, protocols) -> dict[str, Any]:
    values = [
        named_values(item_values(it, a, b, protocols), it.kind) for it, a, b in zip(items, after, before, strict=True)
    ]
    return aggregate(values, [it.request for it in items])[1]
