"""The generalization–locality frontier of docs/memory.md from the runs of ``bench/memory.sh frontier``.

    .venv/bin/python bench/memory_plot.py world [--protocol token_accuracy] [--locality locality_agreement]

Reads runs/memory/<testbed>-*/results_*.json, prints one table row per run (reliability, generalization and
locality, each with its protocol) and draws generalization against locality: GRACE's ε_init sweep and BalancEdit's
λ sweep as lines, the other methods as points (runs/memory/<testbed>-frontier.png).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from amend.evaluation.plot import latest_results

SWEEPS = {
    "grace (ε_init)": re.compile(r"grace-eps(.+)"),
    "balancedit (λ)": re.compile(r"balancedit-lam(.+)"),
    "balancedit, token query (λ)": re.compile(r"balancedit-token-lam(.+)"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("testbed")
    parser.add_argument("--protocol", default="token_accuracy")
    parser.add_argument("--locality", default="locality_agreement")
    parser.add_argument("--root", type=Path, default=Path("runs/memory"))
    args = parser.parse_args()
    rows = []
    for run in sorted(args.root.glob(f"{args.testbed}-*")):
        if not (run / "done").exists():
            continue
        results = latest_results(run)
        summary = results["summary"]

        def value(metric: str, summary: dict = summary) -> float:
            return summary.get(metric, {}).get(args.protocol, {}).get("mean", float("nan"))

        name = run.name[len(args.testbed) + 1 :]
        locality_protocol = "agreement" if args.locality == "locality_agreement" else args.protocol
        locality = summary[args.locality]
        locality = next(iter(locality.values()))["mean"] if locality_protocol == "agreement" else value(args.locality)
        seconds = results["extra"].get("edit_seconds_mean", float("nan"))
        rows.append((name, value("reliability"), value("generalization"), locality, seconds))
    print(f"| run | reliability | generalization | {args.locality} | s/edit |")
    print("|---|---|---|---|---|")
    for name, rel, gen, loc, sec in rows:
        print(f"| {name} | {rel:.3f} | {gen:.3f} | {loc:.3f} | {sec:.2f} |")
    plot(rows, args)


def plot(rows, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for method, pattern in SWEEPS.items():
        swept = sorted((float(m.group(1)), gen, loc) for name, _, gen, loc, _ in rows if (m := pattern.fullmatch(name)))
        if swept:
            ax.plot([loc for *_, loc in swept], [gen for _, gen, _ in swept], marker="o", label=method)
            labels: dict[tuple[float, float], list[str]] = {}  # settings that land on one point share a label
            for setting, gen, loc in swept:
                labels.setdefault((round(loc, 4), round(gen, 4)), []).append(f"{setting:g}")
            for (loc, gen), settings in labels.items():
                ax.annotate(", ".join(settings), (loc, gen), fontsize=7, xytext=(3, 3), textcoords="offset points")
    points: dict[tuple[float, float], list[str]] = {}
    for name, _, gen, loc, _ in rows:
        if not any(pattern.fullmatch(name) for pattern in SWEEPS.values()):
            points.setdefault((round(loc, 4), round(gen, 4)), []).append(name)
    for (loc, gen), names in points.items():
        ax.scatter([loc], [gen], marker="s")
        ax.annotate(", ".join(names), (loc, gen), fontsize=8, xytext=(3, -9), textcoords="offset points")
    ax.set_xlabel(f"locality ({args.locality})")
    ax.set_ylabel(f"generalization ({args.protocol})")
    ax.set_title(f"{args.testbed}: single edits")
    ax.legend(loc="lower left", fontsize=8)
    out = args.root / f"{args.testbed}-frontier.png"
    fig.tight_layout()
    fig.savefig(out, dpi=130)
    print(f"plot: {out}")


if __name__ == "__main__":
    main()
