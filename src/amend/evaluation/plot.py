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


def plot_runs(run_dirs: Sequence[Path], out: Path, protocol: str = "probability") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.6), sharey=True)
    for run_dir in run_dirs:
        results = latest_results(run_dir)
        checkpoints = results["extra"].get("checkpoints")
        if not checkpoints:
            raise ConfigError(f"{run_dir} is not a sequential run (no checkpoints)")
        label = f"{results['method']} (batch {results['extra'].get('edit_batch_size')})"
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
