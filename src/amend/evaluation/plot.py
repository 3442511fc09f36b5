"""Metrics against the number of edits, from the checkpoints of sequential runs (matplotlib, PNG)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from amend.errors import ConfigError

PANELS = ("reliability", "generalization", "locality_agreement")


def latest_results(run_dir: Path) -> dict:
    """The newest ``results_*.json`` of a run directory."""
    files = sorted(Path(run_dir).glob("results_*.json"))
    if not files:
        raise ConfigError(f"{run_dir} holds no results_*.json (run `amend evaluate --out {run_dir}` first)")
    return json.loads(files[-1].read_text())


def run_labels(runs: Sequence[tuple[Path, dict]]) -> list[str]:
    """Legend labels: method and batch size, plus the run's folder name where that alone would repeat (two runs of
    one method with different settings must stay distinguishable in the plot)."""
    base = [f"{results['method']} (batch {results['extra'].get('edit_batch_size')})" for _, results in runs]
    return [
        f"{label}, {Path(run_dir).name}" if base.count(label) > 1 else label
        for label, (run_dir, _) in zip(base, runs, strict=True)
    ]


def plot_runs(run_dirs: Sequence[Path], out: Path, protocol: str = "probability") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.6), sharey=True)
    runs = [(run_dir, latest_results(run_dir)) for run_dir in run_dirs]
    for (run_dir, results), label in zip(runs, run_labels(runs), strict=True):
        checkpoints = results["extra"].get("checkpoints")
        if not checkpoints:
            raise ConfigError(f"{run_dir} is not a sequential run (no checkpoints)")
        edits = [c["edits"] for c in checkpoints]
        for axis, metric in zip(axes, PANELS, strict=True):
            values = [c["summary"].get(metric, {}).get(protocol, {}).get("mean") for c in checkpoints]
            axis.plot(edits, values, marker="o", label=label)
    for axis, metric in zip(axes, PANELS, strict=True):
        axis.set_title(metric.replace("_", " "))
        axis.set_xlabel("edits so far")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_ylim(-0.02, 1.02)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel(f"{protocol} (all edits so far)")
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
