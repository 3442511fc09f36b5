"""Every ability against the number of edits, one line per run (method), from abilities results files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from amend.errors import ConfigError


def latest_abilities(run_dir: str | Path) -> dict:
    """The newest ``abilities_*.json`` of a run folder."""
    files = sorted(Path(run_dir).glob("abilities_*.json"))
    if not files:
        raise ConfigError(f"{run_dir} holds no abilities_*.json (run `amend abilities --out {run_dir}` first)")
    data = json.loads(files[-1].read_text())
    if data.get("kind") != "abilities" or not isinstance(data.get("checkpoints"), list):
        raise ConfigError(f"{files[-1]} is not an abilities results file")
    return data


def panels(runs: Sequence[dict]) -> list[tuple[str, str]]:
    """(ability, value) pairs to draw: each ability's score, and its muting rate where it has one."""
    out: list[tuple[str, str]] = []
    for run in runs:
        for checkpoint in run["checkpoints"]:
            for name, measured in checkpoint["abilities"].items():
                for key in ("score", "muted"):
                    if key in measured and (name, key) not in out:
                        out.append((name, key))
    return out


def plot_abilities(runs: Sequence[dict], out: str | Path, labels: Sequence[str] | None = None) -> Path:
    """One panel per ability (and per muting rate), x the edits so far on a symmetric log scale (0 = unedited)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = panels(runs)
    if not drawn:
        raise ConfigError("the runs hold no measured ability")
    columns = min(4, len(drawn))
    rows = -(-len(drawn) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.0 * rows), squeeze=False)
    labels = list(labels) if labels is not None else [run["method"] for run in runs]
    for run, label in zip(runs, labels, strict=True):
        for axis, (name, key) in zip(axes.flat, drawn, strict=False):
            points = [(c["edits"], c["abilities"][name][key]) for c in run["checkpoints"] if name in c["abilities"]]
            if points:
                axis.plot(*zip(*points, strict=True), marker="o", markersize=3, label=label)
    for axis, (name, key) in zip(axes.flat, drawn, strict=False):
        axis.set_title(f"{name}: muted share" if key == "muted" else f"{name} ({_unit(runs, name)})", fontsize=9)
        if key == "muted" or _unit(runs, name) != "fluency":  # shares: one scale, so panels compare at a glance
            axis.set_ylim(-0.02, 1.02)
        axis.set_xscale("symlog", linthresh=1)
        axis.set_xlim(left=0)  # no negative ticks: counts start at 0 edits
        axis.set_xlabel("edits so far", fontsize=8)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(drawn) :]:
        axis.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def _unit(runs: Sequence[dict], name: str) -> str:
    """The metric an ability's score is in (the first checkpoint that measured it says)."""
    for run in runs:
        for checkpoint in run["checkpoints"]:
            if name in checkpoint["abilities"]:
                return checkpoint["abilities"][name]["metric"]
    return ""
