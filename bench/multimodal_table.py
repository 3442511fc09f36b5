"""The tables and the frontier plot of docs/multimodal.md from the runs of ``bench/multimodal.sh``.

    .venv/bin/python bench/multimodal_table.py table single [--root runs/multimodal]
    .venv/bin/python bench/multimodal_table.py frontier --plot docs/multimodal-frontier.png

A table row per run: reliability, T-generality, I-generality, image locality (top-10 agreement with the unedited
model, BalancEdit's), image locality (argmax agreement), text locality, the harmonic mean of T-generality,
I-generality and top-10 image locality, each teacher-forced (token accuracy, as BalancEdit scores) with greedy
exact match in brackets, and seconds per edit. The frontier plots generality (mean of T- and I-generality, token
accuracy) against top-10 image locality for BalancEdit over λ and GRACE over ε_init.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from amend.evaluation.plot import latest_results

COLUMNS = (
    ("reliability", "reliability"),
    ("generalization/text", "T-gen"),
    ("generalization/image", "I-gen"),
    ("locality_topk/image", "image loc. (top-10)"),
    ("locality_agreement/image", "image loc. (argmax)"),
    ("locality_agreement/text", "text loc."),
    ("harmonic_mean", "HM"),
)


def cell(summary: dict, metric: str) -> str:
    values = summary.get(metric, {})
    teacher, exact = values.get("token_accuracy", {}).get("mean"), values.get("exact_match", {}).get("mean")
    if teacher is None:
        return "—"
    return f"{teacher:.3f}" + (f" ({exact:.3f})" if exact is not None else "")


def table(root: Path, prefix: str) -> None:
    print("| run | " + " | ".join(name for _, name in COLUMNS) + " | s/edit |")
    print("|---|" + "---|" * (len(COLUMNS) + 1))
    for run in sorted(root.glob(f"{prefix}-*")):
        if not (run / "done").exists():
            continue
        results = latest_results(run)
        seconds = results["extra"].get("edit_seconds_mean", float("nan"))
        cells = " | ".join(cell(results["summary"], metric) for metric, _ in COLUMNS)
        print(f"| {run.name[len(prefix) + 1 :]} | {cells} | {seconds:.2f} |")


def teacher_forced(summary: dict, metric: str) -> float:
    return summary[metric]["token_accuracy"]["mean"]


def frontier(root: Path, plot: Path | None) -> None:
    points: dict[str, list[tuple[float, float, float, str]]] = {"balancedit": [], "grace": []}
    for run in sorted(root.glob("frontier-*")):
        if not (run / "done").exists():
            continue
        summary = latest_results(run)["summary"]
        method, setting = re.match(r"frontier-(\w+)-(?:lam|eps)(.+)", run.name).groups()
        generality = (
            teacher_forced(summary, "generalization/text") + teacher_forced(summary, "generalization/image")
        ) / 2
        locality = teacher_forced(summary, "locality_topk/image")
        points[method].append((float(setting), locality, generality, run.name))
    print("| run | generality (T+I)/2 | image locality (top-10) |")
    print("|---|---|---|")
    for method in points:
        for _, locality, generality, name in sorted(points[method]):
            print(f"| {name} | {generality:.3f} | {locality:.3f} |")
    if plot is None:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 4.2))
    for method, marker, label in (("balancedit", "o", "BalancEdit, λ"), ("grace", "s", "GRACE, ε_init")):
        series = sorted(points[method])
        axis.plot([p[1] for p in series], [p[2] for p in series], marker=marker, label=label)
        for setting, locality, generality, _ in series:
            axis.annotate(f"{setting:g}", (locality, generality), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axis.set_xlabel("image locality (top-10 agreement)")
    axis.set_ylabel("generality ((T-gen + I-gen) / 2, token accuracy)")
    axis.set_xlim(-0.02, 1.02)
    axis.set_ylim(-0.02, 1.02)
    axis.legend()
    axis.set_title("Multimodal world: generality against locality")
    figure.tight_layout()
    figure.savefig(plot, dpi=120)
    print(f"plot: {plot}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("table", "frontier"))
    parser.add_argument("mode", nargs="?", default="single")
    parser.add_argument("--root", type=Path, default=Path("runs/multimodal"))
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    if args.what == "table":
        table(args.root, args.mode)
    else:
        frontier(args.root, args.plot)


if __name__ == "__main__":
    main()
